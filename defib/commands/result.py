"""What a command returns: lines for a person, data for scripts, whether it changed the CIB."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    lines: tuple[str, ...]
    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return "\n".join(self.lines)
