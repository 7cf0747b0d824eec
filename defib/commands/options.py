"""Validating ``defib property NAME VALUE`` against the cluster option table
(``defib.cib.options``): an unreadable value, or one defib does not honour, is refused
with a message naming the option."""

from __future__ import annotations

from defib.cib.options import OPTIONS, Option, problem
from defib.errors import CommandError

__all__ = ["OPTIONS", "Option", "validate"]


def validate(name: str, value: str) -> str:
    """The value to store for option ``name``; ``CommandError`` naming what is wrong."""
    option = OPTIONS[name]
    if option.read_only:
        raise CommandError(f"{name} is maintained by the cluster and cannot be set", name)
    why = problem(name, value)
    if why is not None:
        raise CommandError(why, name)
    return value
