"""defib's one exception hierarchy.

    DefibError                      every error defib raises on purpose
    ├── ConfigError                 a configuration (CIB, cluster file, configure text) is invalid
    │   ├── CibParseError           malformed XML or an element that cannot be read
    │   ├── UnknownReferenceError   an id that names nothing (resource, node, rule, template ...)
    │   └── ConfigSyntaxError       configure-language text that does not parse (line, column)
    ├── ClusterError                the cluster layer: membership, quorum, CIB replication
    │   ├── AuthError               a key file is missing, unsafe, or a packet failed its check
    │   ├── CibConflictError        a CIB change based on a configuration that changed since
    │   ├── NotConnectedError       no daemon answers at the given address
    │   ├── PermissionDeniedError   the caller's (or CIB_user's) ACLs do not allow it
    │   └── UnsupportedOpError      the daemon does not offer this control request
    ├── AgentError                  a resource or fence agent could not be run at all
    └── CommandError                a command of the command library was refused

Errors carry the offending id in ``.ident`` (may be None) so that callers can point at it,
and a stable ``.code`` (the class's, or a more precise one given when raised) so that callers
tell errors apart by type or code, never by their text.
Foreign exceptions are mapped at the boundary: ``raise CibParseError(...) from exc``.
"""

from __future__ import annotations


class DefibError(Exception):
    """Base of every error defib raises on purpose."""

    default_code = "error"

    def __init__(self, message: str, ident: str | None = None, code: str | None = None
                 ) -> None:
        super().__init__(message)
        self.ident = ident
        self.code = code or self.default_code


class ConfigError(DefibError):
    """A configuration is invalid."""

    default_code = "invalid-configuration"


class CibParseError(ConfigError):
    """Malformed CIB XML, or an element that cannot be read."""

    default_code = "cib-parse"


class UnknownReferenceError(ConfigError):
    """An id that names nothing."""

    default_code = "unknown-id"


class ConfigSyntaxError(ConfigError):
    """Configure-language text that does not parse."""

    default_code = "syntax"

    def __init__(
        self,
        message: str,
        ident: str | None = None,
        line: int | None = None,
        column: int | None = None,
        suggestion: str | None = None,
    ) -> None:
        where = ""
        if line:
            where = f"line {line}" + (f", column {column}" if column is not None else "")
        text = f"{where}: {message}" if where else message
        if suggestion:
            text += f" (did you mean {suggestion!r}?)"
        super().__init__(text, ident)
        self.line = line
        self.column = column
        self.suggestion = suggestion


class ClusterError(DefibError):
    """Cluster layer failure."""

    default_code = "cluster"


class AuthError(ClusterError):
    """Key file missing or unsafe, or a packet failed authentication."""

    default_code = "auth"


class CibConflictError(ClusterError):
    """A CIB change was based on an older configuration (epoch) than the DC's: refused, so
    that two writers never silently overwrite each other; read again and retry."""

    default_code = "cib-conflict"


class NotConnectedError(ClusterError):
    """No daemon answers at the given address."""

    default_code = "not-connected"


class PermissionDeniedError(ClusterError):
    """The caller's rights (ACLs, or those of the user an administrator acts for) do not
    allow the request."""

    default_code = "permission-denied"


class UnsupportedOpError(ClusterError):
    """The daemon does not offer this control request (an older or partial daemon)."""

    default_code = "unsupported-op"


class AgentError(DefibError):
    """A resource or fence agent could not be run at all."""

    default_code = "agent"


class CommandError(DefibError):
    """A command of the command library was refused."""

    default_code = "refused"
