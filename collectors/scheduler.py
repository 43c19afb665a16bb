"""APScheduler wiring: one job per configured source.

``max_instances=1`` and ``coalesce`` because a source that is still crawling must not be
started twice (it would re-read its own pages), and a backlog of missed ticks after a
pause should collapse into one run. Jitter spreads sources that share a host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collectors.base import SourceSettings
from collectors.cron import crontab_trigger


def trigger_for(source: SourceSettings, tz: ZoneInfo) -> BaseTrigger:
    jitter = source.jitter_seconds or None
    if source.cron:
        return crontab_trigger(source.cron, tz)  # crontab weekdays: 0 and 7 are Sunday
    return IntervalTrigger(seconds=source.interval_seconds, timezone=tz, jitter=jitter)


def build_scheduler(
    sources: Sequence[SourceSettings],
    run_source: Callable[[str], Awaitable[object]],
    tz: ZoneInfo,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=tz)
    for source in sources:
        if not source.enabled:
            continue
        # Interval sources start at once; cron sources wait for their first slot.
        start_now = {} if source.cron else {"next_run_time": datetime.now(tz)}
        scheduler.add_job(
            run_source,
            trigger_for(source, tz),
            args=[source.name],
            id=source.name,
            name=f"collect:{source.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(source.misfire_grace_seconds),
            **start_now,
        )
    return scheduler
