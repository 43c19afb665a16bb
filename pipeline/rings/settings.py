"""``[rings]`` settings: whether and how often the ring job runs.

Example::

    [rings]
    enabled = true
    every_minutes = 10        # then every 10 minutes
    first_run_seconds = 30    # the first run, this long after start
    page_size = 5000          # accounts read per store request
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from apscheduler.triggers.interval import IntervalTrigger


class RingSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    every_minutes: float = 10.0
    first_run_seconds: float = 30.0
    page_size: int = 5_000

    def problems(self) -> list[tuple[str, str]]:
        """(key, problem) for each value the job cannot use."""
        checks = [
            ("rings.every_minutes", self.every_minutes > 0, "must be > 0"),
            ("rings.first_run_seconds", self.first_run_seconds >= 0, "must be >= 0"),
            ("rings.page_size", 1 <= self.page_size <= 10_000, "must be 1..10000"),
        ]
        return [(key, problem) for key, ok, problem in checks if not ok]


def rings_trigger(settings: RingSettings, tz: ZoneInfo) -> IntervalTrigger:
    return IntervalTrigger(minutes=settings.every_minutes, timezone=tz)


def first_run(settings: RingSettings, tz: ZoneInfo, now: datetime | None = None) -> datetime:
    """Shortly after start, so a fresh ``radar run`` shows rings within a minute."""
    return (now or datetime.now(tz)) + timedelta(seconds=settings.first_run_seconds)
