"""Reports: what a command has to say, as data (as pcs's reports are).

A command never prints. It returns a ``Result`` holding reports, each with a stable ``code``
(for scripts, tests and callers that react to one kind of problem), a ``severity``, the ``ids``
it is about, a ``message`` for people and, for configure text, a location and a suggestion.
The CLI renders them (``--json`` prints them as data); a web interface renders them its way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Location:
    line: int
    column: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}" + (f", column {self.column}" if self.column else "")


@dataclass(frozen=True)
class Report:
    """One thing a command reports. ``ident`` (the one id a problem is about) is folded
    into ``ids``; both stay readable."""

    code: str
    message: str
    location: Location | None = None
    suggestion: str | None = None
    ident: str | None = None
    severity: Severity = "error"
    ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.ident is not None and self.ident not in self.ids:
            object.__setattr__(self, "ids", (self.ident, *self.ids))
        elif self.ident is None and self.ids:
            object.__setattr__(self, "ident", self.ids[0])

    @property
    def text(self) -> str:
        """The message with its location and suggestion, without the severity."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return text

    def __str__(self) -> str:
        return f"{self.severity}: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "severity": self.severity,
                               "ids": list(self.ids), "message": self.message}
        if self.location is not None:
            out["line"] = self.location.line
            if self.location.column is not None:
                out["column"] = self.location.column
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        return out


def info(code: str, message: str, *ids: str) -> Report:
    return Report(code, message, severity="info", ids=tuple(i for i in ids if i))


def warning(code: str, message: str, *ids: str) -> Report:
    return Report(code, message, severity="warning", ids=tuple(i for i in ids if i))


def error(code: str, message: str, *ids: str) -> Report:
    return Report(code, message, severity="error", ids=tuple(i for i in ids if i))


def errors(reports: list[Report] | tuple[Report, ...]) -> list[Report]:
    return [r for r in reports if r.severity == "error"]
