import asyncio
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collectors.files import FilesSourceSettings
from collectors.scheduler import build_scheduler

TZ = ZoneInfo("Asia/Shanghai")


async def test_one_job_per_enabled_source_with_overlap_protection():
    sources = [
        FilesSourceSettings(name="a", path="x", interval_seconds=30, jitter_seconds=5),
        FilesSourceSettings(name="b", path="y", cron="*/10 * * * *"),
        FilesSourceSettings(name="c", path="z", enabled=False),
    ]

    async def run(name: str) -> None:
        return None

    scheduler = build_scheduler(sources, run, TZ)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"a", "b"}
    assert isinstance(jobs["a"].trigger, IntervalTrigger)
    assert jobs["a"].trigger.jitter == 5
    assert isinstance(jobs["b"].trigger, CronTrigger)
    for job in jobs.values():
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.args == (job.id,)


async def test_interval_jobs_run_at_start_and_never_overlap():
    calls: list[str] = []
    running = 0
    overlap = False
    release = asyncio.Event()

    async def run(name: str) -> None:
        nonlocal running, overlap
        running += 1
        overlap = overlap or running > 1
        calls.append(name)
        await release.wait()
        running -= 1

    source = FilesSourceSettings(name="slow", path="x", interval_seconds=0.05)
    scheduler = build_scheduler([source], run, TZ)
    scheduler.start()
    await asyncio.sleep(0.4)
    release.set()
    await asyncio.sleep(0.1)
    scheduler.shutdown(wait=False)
    assert calls[0] == "slow"
    assert overlap is False


def test_a_source_cron_reads_weekdays_the_crontab_way() -> None:
    """crontab's 1 is Monday; APScheduler's own ``from_crontab`` would fire on Tuesday."""
    from datetime import datetime

    from collectors.scheduler import trigger_for

    tz = ZoneInfo("Asia/Shanghai")
    source = FilesSourceSettings(name="weekly", path="x", cron="0 9 * * 1")
    wednesday = datetime(2026, 11, 18, 12, 0, tzinfo=tz)
    fire = trigger_for(source, tz).get_next_fire_time(None, wednesday)
    assert fire is not None
    assert (fire.strftime("%A"), fire.hour) == ("Monday", 9)
