"""Standard crontab expressions for APScheduler 3, weekdays included.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0 (its own
convention), while crontab numbers them from Sunday = 0 (7 is Sunday too): the
documented default ``0 9 * * 1`` would fire on *Tuesdays*. Here the weekday field is
read the crontab way and handed to APScheduler as names, which both agree on.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token in _NAMES:
        return _NAMES.index(token)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise ValueError(f"bad day of week {token!r} (0-7 or sun-sat)")


def _expand(part: str) -> set[int]:
    span, _, step_text = part.partition("/")
    step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
    if step_text and step is None:
        raise ValueError(f"bad step in day of week {part!r}")
    if span in ("*", "?"):
        first, last = 0, 6
    elif "-" in span:
        low, high = span.split("-", 1)
        first, last = _weekday(low), _weekday(high)
        if high.strip() == "7":
            last = 7
        if last < first:
            raise ValueError(f"bad day-of-week range {part!r}")
    else:
        first = last = _weekday(span)
        if step is not None:
            last = 6
    return {day % 7 for day in range(first, last + 1, step or 1)}


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler weekday names (``1-5`` → ``mon,…,fri``)."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        days |= _expand(part)
    return ",".join(_NAMES[day] for day in sorted(days))


def crontab_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """A trigger for a five-field crontab expression; ValueError (one line) if invalid."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r}: expected 5 fields (minute hour day month weekday)")
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=tz,
        )
    except ValueError as exc:
        raise ValueError(f"{expr!r}: {exc}") from None
