"""Problems found in configure text or a CIB, reported as data (never printed here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    line: int
    column: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}" + (f", column {self.column}" if self.column else "")


@dataclass(frozen=True)
class Problem:
    """One mistake: ``code`` is stable for scripts and tests, ``message`` is for people."""

    code: str
    message: str
    location: Location | None = None
    suggestion: str | None = None
    ident: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return f"{self.severity}: {text}"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
