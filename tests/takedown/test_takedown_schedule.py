"""The schedule: crontab weekdays as crontab means them, validation at load, the job."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from takedown_seed import LISTED, seed_store

from collectors.cron import crontab_trigger, crontab_weekdays
from pipeline.config import ConfigError, load_settings
from pipeline.runner import Runner
from pipeline.store.sqlite import SqliteStore
from pipeline.takedown.schedule import JOB_ID, add_takedown_job, run_scheduled_takedown

TZ = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2026, 11, 18, 12, 0, tzinfo=TZ)


def next_fire(expr: str) -> datetime:
    return crontab_trigger(expr, TZ).get_next_fire_time(None, WEDNESDAY)


def test_default_schedule_is_monday_nine_local() -> None:
    fire = next_fire("0 9 * * 1")
    assert fire == datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    assert fire.strftime("%A") == "Monday"  # APScheduler's own from_crontab says Tuesday


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("0-6", "sun,mon,tue,wed,thu,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1,3,5", "mon,wed,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("*", "*"),
    ],
)
def test_crontab_weekdays(field: str, names: str) -> None:
    assert crontab_weekdays(field) == names


def test_sunday_zero_fires_on_sunday() -> None:
    assert next_fire("30 8 * * 0").strftime("%A %H:%M") == "Sunday 08:30"


@pytest.mark.parametrize("expr", ["0 9 * *", "0 9 * * 8", "61 9 * * 1", "0 9 * * 5-2", "x"])
def test_bad_schedules_are_one_line_config_errors(expr: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"RADAR_TAKEDOWN__SCHEDULE": expr})
    message = str(caught.value)
    assert "takedown.schedule" in message and "\n" not in message


def test_takedown_settings_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "radar.toml"
    path.write_text(
        '[takedown]\nschedule = "0 10 * * 5"\nplatforms = ["weibo"]\nout_dir = "lists"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, environ={})
    assert (settings.takedown.schedule, settings.takedown.platforms) == ("0 10 * * 5", ["weibo"])
    path.write_text('[takedown]\nshedule = "0 10 * * 5"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="shedule"):
        load_settings(path, environ={})


async def test_the_job_is_added_on_the_settings_cron(tmp_path: Path) -> None:
    settings = load_settings(environ={"RADAR_TAKEDOWN__SCHEDULE": "15 8 * * 1-5"})
    scheduler = AsyncIOScheduler(timezone=TZ)
    assert add_takedown_job(scheduler, SqliteStore(tmp_path / "s.sqlite3"), settings)
    job = scheduler.get_job(JOB_ID)
    assert job is not None and job.max_instances == 1
    assert job.trigger.get_next_fire_time(None, WEDNESDAY) == datetime(
        2026, 11, 19, 8, 15, tzinfo=TZ
    )
    settings.takedown.enabled = False
    assert not add_takedown_job(AsyncIOScheduler(timezone=TZ), SqliteStore(tmp_path), settings)


class NoDetector:
    """The runner's detect loop with nothing to detect."""

    version = "none"

    def detect_many(self, items: list) -> list:
        return []


async def test_the_embedded_runner_schedules_it(tmp_path: Path) -> None:
    settings = load_settings(environ={"RADAR_DATA_DIR": str(tmp_path)})
    store = SqliteStore(settings.sqlite_file)
    await store.open()
    runner = Runner(settings, store, NoDetector(), sources=[])  # type: ignore[arg-type]
    try:
        await runner.start()
        assert runner._scheduler is not None
        assert runner._scheduler.get_job(JOB_ID) is not None
    finally:
        await runner.stop()
        await store.close()


async def test_a_scale_out_dashboard_does_not_schedule_it(tmp_path: Path) -> None:
    """``radar run`` in the scale-out mode only serves the dashboard."""
    settings = load_settings(
        environ={"RADAR_DATA_DIR": str(tmp_path), "RADAR_STREAM__KIND": "kafka"}
    )
    store = SqliteStore(settings.sqlite_file)
    await store.open()
    runner = Runner(settings, store, NoDetector(), sources=[])  # type: ignore[arg-type]
    try:
        await runner.start()
        assert runner._scheduler is None or runner._scheduler.get_job(JOB_ID) is None
    finally:
        await runner.stop()
        await store.close()


async def test_a_scheduled_run_saves_marks_and_writes_files(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"RADAR_DATA_DIR": str(tmp_path), "RADAR_TAKEDOWN__OUT_DIR": "lists"}
    )
    store = SqliteStore(settings.sqlite_file)
    await store.open()
    try:
        await seed_store(store)
        assert await run_scheduled_takedown(store, settings) == len(LISTED)
        names = sorted(p.suffix for p in (tmp_path / "lists").iterdir())
        assert names == [".csv", ".csv", ".xlsx", ".xlsx"]
        assert await run_scheduled_takedown(store, settings) == 0
    finally:
        await store.close()


async def test_a_failing_scheduled_run_is_logged_not_raised(tmp_path: Path, caplog) -> None:
    settings = load_settings(environ={"RADAR_DATA_DIR": str(tmp_path)})
    closed = SqliteStore(tmp_path / "never-opened.sqlite3")
    assert await run_scheduled_takedown(closed, settings) == 0
    assert "takedown job failed" in caplog.text
