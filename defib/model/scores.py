"""Scores: integers clamped to +/-INFINITY with Pacemaker's saturating arithmetic."""

from __future__ import annotations

INFINITY = 1_000_000


def parse_score(text: str | None, default: int = 0) -> int:
    """Pacemaker's char2score: INFINITY words, health colours, clamped integers."""
    if text is None:
        return default
    value = text.strip()
    lowered = value.lower()
    if lowered in ("infinity", "+infinity"):
        return INFINITY
    if lowered == "-infinity":
        return -INFINITY
    if lowered == "red":
        return -INFINITY
    if lowered in ("yellow", "green"):
        return 0
    try:
        number = int(float(value)) if "." in value else int(value)
    except OverflowError:  # "1.5e999": as far as a score goes
        return INFINITY if not value.startswith("-") else -INFINITY
    except ValueError:
        # Pacemaker reads a leading integer (strtoll); an unreadable score is 0.
        digits = ""
        for i, ch in enumerate(value):
            if ch.isdigit() or (i == 0 and ch in "+-"):
                digits += ch
            else:
                break
        try:
            number = int(digits)
        except ValueError:
            return default
    return clamp(number)


def clamp(value: int) -> int:
    return max(-INFINITY, min(INFINITY, value))


def add_scores(a: int, b: int) -> int:
    """-INFINITY wins over +INFINITY, as in Pacemaker's pcmk__add_scores."""
    if a <= -INFINITY or b <= -INFINITY:
        return -INFINITY
    if a >= INFINITY or b >= INFINITY:
        return INFINITY
    return clamp(a + b)


def score_text(value: int) -> str:
    if value >= INFINITY:
        return "INFINITY"
    if value <= -INFINITY:
        return "-INFINITY"
    return str(value)
