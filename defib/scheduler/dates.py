"""ISO 8601 dates and durations as Pacemaker's crm_time reads them (pure, no clock)."""

from __future__ import annotations

import datetime as dt
import re

from defib.model.rules import DateSpec, Duration

_ORDINAL = re.compile(r"^(\d{4})-(\d{3})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})-(\d)$")


def parse_datetime(text: str) -> dt.datetime | None:
    """A crm_time string ("2019-05-20 10:00:00", "2005-001", "2008-W01-1T12:00Z") in UTC."""
    value = text.strip()
    if not value:
        return None
    date_part, _, time_part = value.replace("T", " ").partition(" ")
    time_part = time_part.strip()
    try:
        if (m := _ORDINAL.match(date_part)) is not None:
            base = dt.datetime(int(m.group(1)), 1, 1) + dt.timedelta(days=int(m.group(2)) - 1)
        elif (m := _WEEK.match(date_part)) is not None:
            base = dt.datetime.fromisocalendar(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            base = dt.datetime.strptime(date_part, "%Y-%m-%d")
    except ValueError:
        return None
    offset = dt.timedelta(0)
    if time_part:
        zone = re.search(r"(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})$", time_part)
        if zone:
            z = zone.group(1)
            time_part = time_part[: zone.start()].strip()
            if z != "Z":
                sign = 1 if z[0] == "+" else -1
                digits = z[1:].replace(":", "")
                hours = int(digits[:2])
                minutes = int(digits[2:4] or 0)
                offset = sign * dt.timedelta(hours=hours, minutes=minutes)
        pieces = [int(float(p)) for p in time_part.split(":") if p]
        while len(pieces) < 3:
            pieces.append(0)
        base = base + dt.timedelta(hours=pieces[0], minutes=pieces[1], seconds=pieces[2])
    return base - offset


def add_duration(start: dt.datetime, duration: Duration) -> dt.datetime:
    fields = dict(duration.fields)
    result = start
    months = fields.get("years", 0) * 12 + fields.get("months", 0)
    if months:
        total = result.month - 1 + months
        year = result.year + total // 12
        month = total % 12 + 1
        day = min(result.day, _days_in_month(year, month))
        result = result.replace(year=year, month=month, day=day)
    return result + dt.timedelta(
        weeks=fields.get("weeks", 0),
        days=fields.get("days", 0),
        hours=fields.get("hours", 0),
        minutes=fields.get("minutes", 0),
        seconds=fields.get("seconds", 0),
    )


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def _in_range(spec: str, value: int) -> bool:
    spec = spec.strip()
    if "-" in spec[1:]:
        low_text, high_text = spec.split("-", 1)
        low = int(low_text) if low_text else None
        high = int(high_text) if high_text else None
        return (low is None or value >= low) and (high is None or value <= high)
    return value == int(spec)


def _moon_phase(now: dt.datetime) -> int:
    # Pacemaker's phase_of_the_moon: 0 new .. 4 full .. 7
    diy = now.timetuple().tm_yday - 1
    goldn = (now.year % 19) + 1
    epact = (11 * goldn + 18) % 30
    if (epact == 25 and goldn > 11) or epact == 24:
        epact += 1
    return (((((diy + epact) * 6) + 11) % 177) // 22) & 7


def date_spec_matches(spec: DateSpec, now: dt.datetime) -> bool:
    iso_year, iso_week, iso_weekday = now.isocalendar()
    values = {
        "hours": now.hour,
        "minutes": now.minute,
        "seconds": now.second,
        "monthdays": now.day,
        "weekdays": iso_weekday,
        "yeardays": now.timetuple().tm_yday,
        "months": now.month,
        "weeks": iso_week,
        "years": now.year,
        "weekyears": iso_year,
        "moon": _moon_phase(now),
    }
    for name, range_text in spec.fields:
        if name not in values:
            continue
        try:
            if not _in_range(range_text, values[name]):
                return False
        except ValueError:
            return False
    return True
