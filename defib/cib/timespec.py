"""Time specifications as Pacemaker reads them: intervals ("10s", "PT1M") in milliseconds."""

from __future__ import annotations

import re

_UNITS_MS = {
    "": 1000,
    "s": 1000,
    "sec": 1000,
    "secs": 1000,
    "second": 1000,
    "seconds": 1000,
    "ms": 1,
    "msec": 1,
    "msecs": 1,
    "us": 0.001,
    "usec": 0.001,
    "usecs": 0.001,
    "m": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hrs": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
}
_SPEC = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*$")
_ISO = re.compile(
    # Pacemaker also takes hours and seconds without the "T" ("P10S").
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$"
)


def parse_ms(text: str | None, default: int | None = 0) -> int | None:
    """Milliseconds for an interval or timeout text; ``default`` when absent or unreadable."""
    if text is None or text.strip() == "":
        return default
    value = text.strip()
    if value.startswith("P"):
        match = _ISO.match(value)
        if not match:
            return default
        years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        total = (
            ((years * 365 + months * 30 + weeks * 7 + days) * 24 + hours) * 3600
            + minutes * 60
            + seconds
        )
        return total * 1000
    match = _SPEC.match(value)
    if not match:
        return default
    number, unit = match.groups()
    factor = _UNITS_MS.get(unit.lower())
    if factor is None:
        return default
    return int(float(number) * factor)
