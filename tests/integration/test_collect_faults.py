"""Collection against a real loopback server: every fault class, through a real Runner
and the SQLite store. The vendor is a ``jsonapi`` source (newest-first, cursor paging)."""

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from collect_server import Reply, Seen, json_reply, serving

from collectors.jsonapi import JsonApiSourceSettings
from detectors import Detector
from pipeline.config import load_settings
from pipeline.runner import Runner

pytestmark = pytest.mark.integration

PER_PAGE = 3


def item(i: int) -> dict:
    return {"id": i, "text": f"第{i}条普通帖子", "uid": f"u{i % 4}", "ts": 1_763_700_000 + i}


class Feed:
    """Newest-first posts; ``faults[(cursor, nth request for it)] = Reply`` overrides."""

    def __init__(self, total: int) -> None:
        self.items = [item(i) for i in range(total, 0, -1)]
        self.faults: dict[tuple[str, int], Reply] = {}
        self.always: dict[str, Reply] = {}
        self.asked: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, seen: Seen) -> Reply:
        cursor = seen.params.get("cursor", "0")
        with self.lock:
            self.asked[cursor] = n = self.asked.get(cursor, 0) + 1
        if cursor in self.always:
            return self.always[cursor]
        if (cursor, n) in self.faults:
            return self.faults[(cursor, n)]
        start = int(cursor)
        chunk = self.items[start : start + PER_PAGE]
        end = start + len(chunk)
        return json_reply({"data": chunk, "next": str(end) if end < len(self.items) else None})


def source(url: str, **overrides) -> JsonApiSourceSettings:
    raw = {
        "kind": "jsonapi",
        "name": "vendor",
        "base_url": url,
        "url": "/feed",
        "params": {"cursor": "{cursor}"},
        "paging": "cursor",
        "next_cursor": "next",
        "items": "data",
        "fields": {"id": "id", "text": "text", "author_id": "uid", "created_at": "ts"},
        "rate_per_second": 0,
        "backoff_seconds": 0.05,
        "timeout_seconds": 2,
        **overrides,
    }
    return msgspec.convert(raw, JsonApiSourceSettings)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


async def started(tmp_path, store, detector, *sources) -> Runner:
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    runner = Runner(settings, store, detector, list(sources))
    await runner.start(schedule=False)
    return runner


async def stored_ids(store) -> list[int]:
    rows = store.path  # the posts table, read directly: the exact set collected
    import sqlite3

    con = sqlite3.connect(rows)
    try:
        return sorted(int(pid) for (pid,) in con.execute("SELECT post_id FROM posts"))
    finally:
        con.close()


async def test_429_with_retry_after_and_5xx_are_retried_and_every_post_arrives(
    tmp_path, store, detector
):
    feed = Feed(8)
    feed.faults[("0", 1)] = json_reply({"error": "slow down"}, 429, **{"Retry-After": "0.2"})
    feed.faults[("3", 1)] = Reply(status=503, body=b"busy")
    feed.faults[("3", 2)] = Reply(status=500, body=b"oops")
    with serving(feed) as server:
        runner = await started(tmp_path, store, detector, source(server.url))
        assert await runner.collect_once("vendor") == 8
        await runner.stop()
    assert feed.asked == {"0": 2, "3": 3, "6": 1}
    assert await stored_ids(store) == list(range(1, 9))
    assert runner.health["vendor"].state() == "healthy"


async def test_a_timeout_mid_crawl_is_retried(tmp_path, store, detector):
    feed = Feed(6)
    feed.faults[("3", 1)] = Reply(delay=1.0, body=b"{}")
    with serving(feed) as server:
        runner = await started(tmp_path, store, detector, source(server.url, timeout_seconds=0.3))
        assert await runner.collect_once("vendor") == 6
        await runner.stop()
    assert feed.asked["3"] == 2
    assert await stored_ids(store) == list(range(1, 7))


async def test_timeouts_past_the_retries_fail_the_run_but_keep_the_checkpoint(
    tmp_path, store, detector
):
    feed = Feed(6)
    feed.always["3"] = Reply(delay=0.6, body=b"{}")
    with serving(feed) as server:
        settings = source(server.url, timeout_seconds=0.2, retries=1)
        runner = await started(tmp_path, store, detector, settings)
        assert await runner.collect_once("vendor") == 3
        health = runner.health["vendor"]
        assert health.state() == "failing" and "Timeout" in health.last_error
        del feed.always["3"]
        assert await runner.collect_once("vendor") == 3  # resumes at page 2
        await runner.stop()
    assert feed.asked["0"] == 1  # page 1 was never fetched twice
    assert await stored_ids(store) == list(range(1, 7))
    assert runner.counters.collected == 6


async def test_risk_control_mid_crawl_cools_down_without_a_retry_loop(
    tmp_path, store, detector, caplog
):
    feed = Feed(9)
    feed.always["3"] = json_reply({"ok": 0, "msg": "请求过于频繁"}, 432)
    caplog.set_level(logging.WARNING)
    with serving(feed) as server:
        runner = await started(tmp_path, store, detector, source(server.url, cooldown_seconds=0.5))
        before = datetime.now(UTC)
        assert await runner.collect_once("vendor") == 3
        health = runner.health["vendor"]
        assert feed.asked["3"] == 1  # asked once, never again in a loop
        assert health.state() == "cooling"
        until = datetime.fromisoformat(health.cooldown_until)
        assert before + timedelta(seconds=0) < until <= datetime.now(UTC) + timedelta(seconds=1)
        # Scheduled ticks during the cool-down do not reach the server.
        assert await runner.collect_once("vendor") == 0
        assert sum(feed.asked.values()) == 2
        warnings = [r.getMessage() for r in caplog.records if "risk control" in r.getMessage()]
        assert len(warnings) == 1 and "cooling down until" in warnings[0]
        # Cooled down, still refused: the next cool-down is twice as long.
        await asyncio.sleep(0.6)
        assert await runner.collect_once("vendor") == 0
        assert health.risk_streak == 2
        second = datetime.fromisoformat(health.cooldown_until) - datetime.now(UTC)
        assert timedelta(seconds=0.5) < second <= timedelta(seconds=1.1)
        # The platform lets us in again: the crawl resumes where it stopped.
        del feed.always["3"]
        assert await runner.collect_once("vendor", force=True) == 6
        await runner.stop()
    assert await stored_ids(store) == list(range(1, 10))
    assert health.state() == "healthy"


async def test_a_restart_between_pages_leaves_no_gaps_and_no_duplicates(tmp_path, store, detector):
    feed = Feed(9)
    feed.faults[("3", 1)] = Reply(delay=5.0, body=b"{}")  # the crash happens while waiting
    with serving(feed) as server:
        first = await started(tmp_path, store, detector, source(server.url))
        task = asyncio.create_task(first.collect_once("vendor"))
        while feed.asked.get("3") != 1:
            await asyncio.sleep(0.02)
        await first.stop()  # cancels the crawl mid-page: page 1 is committed, page 2 not
        assert task.done()
        assert await stored_ids(store) == [7, 8, 9]
        # While down, two new posts arrive at the head of the feed.
        feed.items[:0] = [item(11), item(10)]
        second = await started(tmp_path, store, detector, source(server.url))
        await second.collect_once("vendor")  # resumes the old crawl
        await second.collect_once("vendor")  # a new crawl: only what is new
        await second.stop()
    assert await stored_ids(store) == list(range(1, 12))
    assert first.counters.collected + second.counters.collected == 11
    assert second.counters.duplicates == 0


async def test_html_instead_of_json_is_a_counted_reject_and_the_crawl_goes_on_next_run(
    tmp_path, store, detector, caplog
):
    caplog.set_level(logging.WARNING, logger="radar.runner")
    feed = Feed(6)
    feed.faults[("3", 1)] = Reply(body=b"<html><body>login required</body></html>")
    feed.faults[("3", 2)] = Reply(body=b'{"data": [{"id": 3, "text": "cut')
    with serving(feed) as server:
        runner = await started(tmp_path, store, detector, source(server.url))
        await runner.collect_once("vendor")
        await runner.collect_once("vendor")
        await runner.collect_once("vendor")
        await runner.stop()
    assert await stored_ids(store) == list(range(1, 7))
    assert runner.health["vendor"].shape_errors == 2
    samples = [r.getMessage() for r in caplog.records if "sample:" in r.getMessage()]
    assert len(samples) == 1 and "login required" in samples[0]
    stats = await store.stats()
    assert stats.rejects == 2
    state = await store.get_checkpoint("vendor")
    assert state is not None and state.bad_records == 2 and state.posts_total == 6
