"""Operation digests exactly as Pacemaker 2.1.5 computes them.

The controller records three digests with every operation result, and the scheduler
recomputes them from the configuration to notice parameter changes:

``op-digest``
    MD5 of every parameter of the operation, after dropping meta-attributes
    (``CRM_meta_*``) and a few bookkeeping names; a recurring operation keeps its
    ``CRM_meta_timeout`` (a changed monitor timeout must reschedule the monitor).
``op-restart-digest`` (with the ``op-force-restart`` list)
    Only for agents that can reload, and only for non-recurring operations: MD5 of the
    parameters a reload cannot apply (OCF 1.1 agents with ``reload-agent``: every
    parameter not marked ``reloadable``; older agents with ``reload``: the ``unique`` ones).
``op-secure-digest`` (with the ``op-secure-params`` list)
    Only for agents with ``private`` parameters: MD5 of the parameters without the
    private ones, so that a CIB with secrets stripped can still be compared.

The canonical text is one unindented element ``<parameters a="1" b="2"/>`` with the
attributes sorted by name (byte order), preceded by one space and followed by a newline
(Pacemaker's "v1" digest format), attribute values escaped as Pacemaker escapes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

META_PREFIX = "CRM_meta_"

# Names the controller puts among an operation's parameters that never count.
_FILTERED_NAMES = frozenset(
    {"id", "crm_feature_set", "op-digest", "on_node", "on_node_uuid", "pcmk_external_ip"}
)

_ESCAPES = {
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&apos;",
    "&": "&amp;",
    "\t": "    ",
    "\n": "\\n",
    "\r": "\\r",
}


def escape_value(text: str) -> str:
    """Escape an attribute value as Pacemaker's ``crm_xml_escape`` does.

    Not standard XML escaping: a tab becomes four spaces, newlines become a literal
    backslash-n, and other control characters become a backslash and three octal digits.
    Multi-byte UTF-8 characters pass unchanged.
    """
    out: list[str] = []
    for ch in text:
        rep = _ESCAPES.get(ch)
        if rep is not None:
            out.append(rep)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return "".join(out)


def canonical_text(params: Mapping[str, str]) -> str:
    """The exact text whose MD5 is the digest."""
    attrs = "".join(
        f' {name}="{escape_value(params[name])}"'
        for name in sorted(params, key=lambda n: n.encode())
    )
    return f" <parameters{attrs}/>\n"


def digest_of(params: Mapping[str, str]) -> str:
    """MD5 (hex) of the canonical text of ``params`` (no filtering)."""
    return hashlib.md5(canonical_text(params).encode("utf-8")).hexdigest()


def _interval_ms(value: str | None) -> int:
    # crm_element_value_ms: a plain integer of milliseconds; anything else counts as 0.
    if value is None:
        return 0
    try:
        return max(int(value.strip()), 0)
    except ValueError:
        return 0


def filter_for_digest(params: Mapping[str, str]) -> dict[str, str]:
    """Drop what Pacemaker's ``pcmk__filter_op_for_digest`` drops.

    Every ``CRM_meta_*`` name and the bookkeeping names go, except that an operation
    with a non-zero ``CRM_meta_interval`` keeps ``CRM_meta_timeout``.
    """
    keep_timeout = _interval_ms(params.get(META_PREFIX + "interval")) != 0
    out = {
        k: v
        for k, v in params.items()
        if not k.startswith(META_PREFIX) and k not in _FILTERED_NAMES
    }
    timeout = params.get(META_PREFIX + "timeout")
    if keep_timeout and timeout is not None:
        out[META_PREFIX + "timeout"] = timeout
    return out


def _with_meta(
    params: Mapping[str, str], interval_ms: int | None, timeout_ms: int | None
) -> dict[str, str]:
    full = dict(params)
    if interval_ms is not None:
        full[META_PREFIX + "interval"] = str(interval_ms)
    if timeout_ms is not None:
        full[META_PREFIX + "timeout"] = str(timeout_ms)
    return full


def op_digest(
    params: Mapping[str, str],
    interval_ms: int | None = None,
    timeout_ms: int | None = None,
) -> str:
    """The ``op-digest`` of an operation.

    ``params`` are the resource's instance attributes (plus the operation's own instance
    attributes); they may also carry the operation's ``CRM_meta_*`` values as the executor
    receives them. ``interval_ms``/``timeout_ms``, when given, set ``CRM_meta_interval``
    and ``CRM_meta_timeout`` (the timeout only counts for recurring operations).
    """
    return digest_of(filter_for_digest(_with_meta(params, interval_ms, timeout_ms)))


@dataclass(frozen=True)
class ParamInfo:
    """What the digests need to know of one agent parameter (from its meta-data)."""

    name: str
    unique: bool = False
    reloadable: bool = False
    private: bool = False


@dataclass(frozen=True)
class DigestPolicy:
    """The agent meta-data facts that decide the restart and secure digests.

    ``params`` keep meta-data order: Pacemaker lists names in that order.
    """

    params: tuple[ParamInfo, ...] = ()
    supports_reload_agent: bool = False  # OCF >= 1.1 agent with a reload-agent action
    supports_legacy_reload: bool = False  # pre-1.1 agent with a reload action


def _word_list(names: Iterable[str]) -> str | None:
    names = list(names)
    if not names:
        return None
    # Pacemaker 2.1 builds this with pcmk__add_word() starting from " " and ending with
    # " ", each joined with a space separator: hence two spaces at each end.
    return "  " + " ".join(names) + "  "


def restart_digest(
    params: Mapping[str, str], policy: DigestPolicy, interval_ms: int = 0
) -> tuple[str, str] | None:
    """``(op-force-restart, op-restart-digest)``, or None when Pacemaker records none.

    None for recurring operations and for agents that cannot reload.
    """
    if interval_ms > 0 or _interval_ms(params.get(META_PREFIX + "interval")) > 0:
        return None
    if policy.supports_reload_agent:
        chosen = [p.name for p in policy.params if not p.reloadable]
    elif policy.supports_legacy_reload:
        chosen = [p.name for p in policy.params if p.unique]
    else:
        return None
    subset = {name: params[name] for name in chosen if name in params}
    return (_word_list(chosen) or "", digest_of(subset))


def restart_digest_for_list(params: Mapping[str, str], force_restart: str) -> str:
    """The restart digest for an already recorded ``op-force-restart`` list."""
    return digest_of({n: params[n] for n in force_restart.split() if n in params})


def secure_digest(
    params: Mapping[str, str],
    policy: DigestPolicy,
    interval_ms: int | None = None,
    timeout_ms: int | None = None,
) -> tuple[str, str] | None:
    """``(op-secure-params, op-secure-digest)``, or None when the agent has no private ones.

    The digest covers every filtered parameter except the private ones (feature set
    3.16.0 and later, which 2.1.5 is).
    """
    private = [p.name for p in policy.params if p.private]
    names = _word_list(private)
    if names is None:
        return None
    return (names, secure_digest_for_list(_with_meta(params, interval_ms, timeout_ms), names))


def secure_digest_for_list(params: Mapping[str, str], secure_params: str) -> str:
    """The secure digest for an already recorded ``op-secure-params`` list."""
    hidden = set(secure_params.split())
    kept = {k: v for k, v in filter_for_digest(params).items() if k not in hidden}
    return digest_of(kept)
