"""Source health: cool-down growth, skipped runs, shape errors, restore over a restart."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.base import Page
from collectors.health import MAX_COOLDOWN_SECONDS, SourceHealth, cooldown_for
from collectors.http import RiskControlError, ShapeError
from collectors.sample import SampleSourceSettings
from pipeline.config import load_settings
from pipeline.models import Post, Verdict
from pipeline.runner import Runner
from pipeline.store.health_log import MemoryHealthLog, SqliteHealthLog

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_cooldown_doubles_with_each_repeat_and_is_capped():
    assert [cooldown_for(600, n) for n in (1, 2, 3, 4)] == [600, 1200, 2400, 4800]
    assert cooldown_for(600, 30) == MAX_COOLDOWN_SECONDS
    assert cooldown_for(600, 1, retry_after=3600) == 3600  # the platform's hint wins


def test_states_move_from_healthy_to_cooling_to_failing_to_healthy():
    health = SourceHealth(kind="weibo")
    assert health.state(NOW) == "healthy"
    until = health.risk_controlled("HTTP 432", 600, now=NOW)
    assert until == NOW + timedelta(seconds=600)
    assert health.state(NOW + timedelta(seconds=599)) == "cooling"
    assert "cooling down until" in health.describe(NOW)
    # The cool-down is over but nothing has succeeded since: failing, with the reason.
    assert health.state(NOW + timedelta(seconds=601)) == "failing"
    second = health.risk_controlled("HTTP 432", 600, now=NOW + timedelta(seconds=700))
    assert second == NOW + timedelta(seconds=700 + 1200)
    health.succeeded(now=NOW + timedelta(hours=2))
    assert health.state(NOW + timedelta(hours=2)) == "healthy"
    assert health.risk_streak == 0
    assert [e["kind"] for e in health.events] == ["cooldown", "cooldown", "recovered"]


def test_only_the_first_failure_and_first_shape_error_ask_to_be_logged():
    health = SourceHealth(kind="x")
    assert health.failed("boom", NOW) is True
    assert health.failed("boom", NOW) is False
    fresh = SourceHealth(kind="x")
    assert fresh.shape_error("HTML where JSON was expected", NOW) is True
    assert fresh.shape_error("HTML where JSON was expected", NOW) is False
    assert fresh.shape_errors == 2
    assert fresh.state(NOW) == "healthy"  # the run may have gone on with other feeds


def test_snapshot_and_restore_carry_a_cooldown_over_a_restart():
    health = SourceHealth(kind="weibo")
    health.risk_controlled("HTTP 432", 600, now=datetime.now(UTC))
    again = SourceHealth(kind="weibo")
    again.restore(health.snapshot())
    assert again.cooling()
    assert again.risk_streak == 1
    assert again.snapshot()["state"] == "cooling"


# -- through the runner ------------------------------------------------------------------


class Scripted:
    """A collector that plays a list of pages and exceptions, recording cursors asked."""

    def __init__(self, name: str, script: list) -> None:
        self.name = name
        self.script = script
        self.cursors: list[str | None] = []

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        self.cursors.append(cursor)
        for step in self.script:
            if isinstance(step, Exception):
                raise step
            yield step

    async def aclose(self) -> None:
        return None


def page(ids: list[int], cursor: str) -> Page:
    posts = [Post(platform="t", post_id=str(i), text=f"普通帖子{i}", source="s") for i in ids]
    return Page(posts=posts, cursor=cursor)


class QuietDetector:
    """Flags nothing: these tests are about collection, not detection."""

    version = "test"

    def detect_many(self, items):
        return [Verdict(flagged=False, score=0.0) for _ in items]


def make_runner(tmp_path: Path, store, script: list, **kw) -> tuple[Runner, Scripted]:
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    source = SampleSourceSettings(name="s")
    runner = Runner(settings, store, QuietDetector(), [source], **kw)
    collector = Scripted("s", script)
    runner._collectors["s"] = collector
    return runner, collector


async def test_risk_control_mid_crawl_keeps_the_checkpoint_and_skips_runs_until_cooled(
    tmp_path, store, caplog
):
    script = [page([1, 2], "c1"), RiskControlError("weibo ok=-100", 432)]
    runner, collector = make_runner(tmp_path, store, script)
    await runner.start(schedule=False)
    caplog.set_level(logging.WARNING, logger="radar.runner")
    assert await runner.collect_once("s") == 2
    health = runner.health["s"]
    assert health.state() == "cooling"
    assert [r for r in caplog.records if "risk control" in r.getMessage()]
    # Scheduled runs during the cool-down do not touch the platform at all.
    assert await runner.collect_once("s") == 0
    assert collector.cursors == [None]
    assert health.skipped == 1
    await runner.stop()
    checkpoint = await store.get_checkpoint("s")
    assert checkpoint is not None and checkpoint.cursor == "c1"
    assert await store.count_posts() == 2


async def test_shape_error_is_counted_logged_once_with_sample_and_stored_as_reject(
    tmp_path, store, caplog
):
    bad = ShapeError("HTML where JSON was expected", b"<html>captcha</html>")
    runner, _ = make_runner(tmp_path, store, [page([1], "c1"), bad])
    await runner.start(schedule=False)
    caplog.set_level(logging.WARNING, logger="radar.runner")
    await runner.collect_once("s")
    await runner.collect_once("s")
    await runner.stop()
    shape_logs = [r.getMessage() for r in caplog.records if "unexpected response" in r.getMessage()]
    assert len(shape_logs) == 1 and "<html>captcha" in shape_logs[0]
    assert runner.health["s"].shape_errors == 2
    assert (await store.stats()).rejects == 2
    assert (await store.get_checkpoint("s")).cursor == "c1"


async def test_a_cooldown_survives_a_restart_through_the_health_log(tmp_path, store):
    runner, _ = make_runner(tmp_path, store, [RiskControlError("bilibili -412")])
    await runner.start(schedule=False)
    await runner.collect_once("s")
    await runner.stop()

    again, collector = make_runner(tmp_path, store, [page([1], "c1")])
    await again.start(schedule=False)
    assert again.health["s"].state() == "cooling"
    assert await again.collect_once("s") == 0
    assert collector.cursors == []
    assert await again.collect_once("s", force=True) == 1
    await again.stop()
    saved = await SqliteHealthLog(store.path).load()
    assert saved["s"]["state"] == "healthy"


async def test_status_reports_state_and_posts_in_the_last_hour(tmp_path, store):
    log = MemoryHealthLog()
    runner, _ = make_runner(tmp_path, store, [page([1, 2, 3], "c")], health_log=log)
    await runner.start(schedule=False)
    await runner.collect_once("s")
    status = await runner.status_async()
    await runner.stop()
    (source,) = status["sources"]
    assert source["state"] == "healthy"
    assert source["posts_last_hour"] == 3 and source["posts_last_day"] == 3
    assert source["last_success"] is not None


async def test_errors_are_scrubbed_of_secrets_before_they_are_shown(tmp_path, store, monkeypatch):
    from collectors.http import env_secret

    monkeypatch.setenv("T_TOKEN", "very-secret-token-42")
    env_secret("T_TOKEN")
    boom = RuntimeError("GET /api?x=1 failed with header very-secret-token-42")
    runner, _ = make_runner(tmp_path, store, [boom])
    await runner.start(schedule=False)
    await runner.collect_once("s")
    await runner.stop()
    assert "very-secret-token-42" not in runner.health["s"].last_error
    assert "very-secret-token-42" not in str(runner.status())
