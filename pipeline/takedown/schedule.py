"""The scheduled takedown job: one APScheduler job on ``[takedown] schedule``.

Whichever process owns the scheduler adds it: the embedded runner (``radar run``) does
in the embedded mode (:func:`takedown_runs_here`); in the scale-out mode exactly one
process should (the ``radar collect`` scheduler, or a Kubernetes CronJob running
``radar takedown`` instead). Two at once are harmless but
wasteful: the same day's lists get the same ids and the marks are idempotent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler

from pipeline.store.base import Store
from pipeline.takedown.job import produce_takedown_lists, write_files
from pipeline.takedown.settings import takedown_trigger

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger("radar.takedown")

JOB_ID = "takedown"
MISFIRE_GRACE_SECONDS = 6 * 3600  # a monitor down at 09:00 still produces the list at 10:00


async def run_scheduled_takedown(store: Store, settings: Settings) -> int:
    """One scheduled run; returns the number of accounts listed. Never raises: a failed
    run is logged and the next tick tries again (confirmed accounts stay confirmed)."""
    try:
        lists = await produce_takedown_lists(store, settings, datetime.now(UTC))
        if lists and settings.takedown.out_dir:
            out = settings.data_path / settings.takedown.out_dir
            write_files(lists, out, settings.takedown.formats, settings)
    except Exception:
        log.exception("takedown job failed; the next run will retry")
        return 0
    count = sum(len(t.entries) for t in lists)
    log.info("takedown job: %d list(s), %d account(s)", len(lists), count)
    return count


def takedown_runs_here(settings: Settings) -> bool:
    """Whether the embedded runner schedules the job: only in the embedded mode. In the
    scale-out mode ``radar run`` is just the dashboard (possibly several replicas), and
    the job belongs to the one scheduler process (``radar collect``) or a CronJob."""
    return settings.takedown.enabled and settings.stream.kind == "inprocess"


def add_takedown_job(scheduler: BaseScheduler, store: Store, settings: Settings) -> bool:
    """Add the job when ``[takedown] enabled``; returns whether it was added."""
    if not settings.takedown.enabled:
        return False
    scheduler.add_job(
        run_scheduled_takedown,
        takedown_trigger(settings.takedown, settings.tz),
        args=[store, settings],
        id=JOB_ID,
        name="takedown lists",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        replace_existing=True,
    )
    return True
