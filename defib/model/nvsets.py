"""Name/value sets (instance, meta, utilization attributes; cluster properties)."""

from __future__ import annotations

from dataclasses import dataclass

from defib.model.rules import Rule


@dataclass(frozen=True, slots=True)
class NvSet:
    id: str
    pairs: tuple[tuple[str, str], ...] = ()
    score: int = 0
    rule: Rule | None = None

    def get(self, name: str) -> str | None:
        for key, value in self.pairs:
            if key == name:
                return value
        return None


def unconditional(sets: tuple[NvSet, ...]) -> dict[str, str]:
    """Merge sets that carry no rule, higher score first, first value wins (Pacemaker's order)."""
    merged: dict[str, str] = {}
    for nvset in sorted(sets, key=lambda s: -s.score):
        if nvset.rule is not None:
            continue
        for key, value in nvset.pairs:
            merged.setdefault(key, value)
    return merged
