"""What a command returns: its reports, what it shows, data for scripts, whether it changed
the CIB. Nothing here prints; ``defib.cli.render`` turns a result into text or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from defib.commands.report import Report, errors, info
from defib.errors import CommandError, DefibError


@dataclass(frozen=True)
class Result:
    reports: tuple[Report, ...] = ()
    output: str = ""  # what a query shows (configure show, status), as text
    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not errors(self.reports)

    @property
    def problems(self) -> tuple[Report, ...]:
        """Errors and warnings."""
        return tuple(r for r in self.reports if r.severity != "info")

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(r.message for r in self.reports if r.severity == "info")

    @property
    def lines(self) -> tuple[str, ...]:
        """What a person reads: the output's lines, then the messages of info reports."""
        return (*self.output.splitlines(), *self.notes)

    def text(self) -> str:
        return "\n".join(self.lines)

    def with_reports(self, *more: Report) -> Result:
        return Result((*self.reports, *more), self.output, self.changed, self.data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "changed": self.changed,
                               "reports": [r.to_dict() for r in self.reports]}
        if self.output:
            out["output"] = self.output
        return {**out, **self.data}

    def raise_for_errors(self) -> Result:
        """For library callers that prefer exceptions: ``ReportedError`` (a ``CommandError``)
        holding every error report."""
        errs = errors(self.reports)
        if errs:
            raise ReportedError(errs, "; ".join(r.text for r in errs))
        return self


def done(code: str, message: str, *ids: str, changed: bool = True,
         data: dict[str, Any] | None = None) -> Result:
    """A command that did (or found it had nothing to do) one thing."""
    return Result((info(code, message, *ids),), "", changed, data or {})


def shown(output: str | list[str], data: dict[str, Any] | None = None) -> Result:
    """A query: what it shows, and the same as data."""
    text = output if isinstance(output, str) else "\n".join(output)
    return Result((), text, False, data or {})


class ReportedError(CommandError):
    """A command refused with reports (every problem found, not only the first)."""

    def __init__(self, reports: list[Report], summary: str) -> None:
        first = errors(reports)[0] if errors(reports) else None
        super().__init__(summary, first.ident if first else None,
                         first.code if first else None)
        self.reports = tuple(reports)


def reports_of(exc: DefibError) -> tuple[Report, ...]:
    """A refused command's error as reports (the boundary between raising and reporting)."""
    if isinstance(exc, ReportedError):
        return exc.reports
    return (Report(exc.code, str(exc), ident=exc.ident),)
