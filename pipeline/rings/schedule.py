"""The scheduled ring job: one APScheduler interval job on ``[rings] every_minutes``,
first run ``first_run_seconds`` after start.

Whichever process owns the scheduler adds it, as for the takedown job: the embedded
runner (``radar run``) in the embedded mode (:func:`rings_run_here`), the ``radar
collect`` scheduler in the scale-out mode. Two at once are harmless: each run replaces
the whole assignment and the same accounts give the same ring ids. Each passes the sink
its account facts go to: the runner's writer, or ``radar.posts.raw``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler

from pipeline.rings.facts import FactSink
from pipeline.rings.job import find_live_rings, policy_for
from pipeline.rings.settings import first_run, rings_trigger
from pipeline.store.base import Store

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger("radar.rings")

JOB_ID = "rings"


async def run_scheduled_rings(
    store: Store, settings: Settings, facts: FactSink | None = None
) -> int:
    """One scheduled run, its account facts sent to ``facts`` (the fold's sink of the
    calling process, :mod:`pipeline.rings.facts`); returns the number of accounts in
    rings. Never raises: a failed run is logged, the previous rings stay saved, and the
    next tick tries again (facts that did not go out included)."""
    try:
        run = await find_live_rings(
            store, policy_for(settings), page_size=settings.rings.page_size, facts=facts
        )
    except Exception:
        log.exception("ring job failed; the next run will retry")
        return 0
    return len(run.memberships)


def rings_run_here(settings: Settings) -> bool:
    """Whether the embedded runner schedules the job: only in the embedded mode (in the
    scale-out mode ``radar run`` is just the dashboard, possibly several replicas)."""
    return settings.rings.enabled and settings.stream.kind == "inprocess"


def add_rings_job(
    scheduler: BaseScheduler, store: Store, settings: Settings, facts: FactSink
) -> bool:
    """Add the job when ``[rings] enabled``; returns whether it was added."""
    if not settings.rings.enabled:
        return False
    scheduler.add_job(
        run_scheduled_rings,
        rings_trigger(settings.rings, settings.tz),
        args=[store, settings, facts],
        id=JOB_ID,
        name="rings",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,  # late (a busy loop) is better than skipped for 10 min
        next_run_time=first_run(settings.rings, settings.tz),
        replace_existing=True,
    )
    return True
