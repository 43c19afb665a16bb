"""A platform source under the real runner and SQLite store: a 432 mid-crawl cools the
source down with its first page stored and checkpointed; after a restart the crawl
resumes from the checkpoint, and the store holds every post exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.weibo import WeiboSourceSettings
from detectors import Detector
from pipeline.config import load_settings
from pipeline.models import SearchQuery
from pipeline.runner import Runner
from pipeline.store.sqlite import SqliteStore
from tests.integration.platform_replay import FAST, Answer, replay
from tests.integration.test_platforms_weibo import FIRST_CRAWL, TIMELINE, UID, Weibo

pytestmark = pytest.mark.integration


async def stored_ids(store: SqliteStore) -> list[str]:
    result = await store.search(SearchQuery(flagged_only=False, page_size=100))
    return sorted(hit.post.post_id for hit in result.results)


async def test_432_cools_down_then_a_restart_resumes_without_gaps_or_repeats(tmp_path: Path):
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path / "data")})
    site = Weibo()
    site.faults["5230000000000300"] = [Answer(432, b"")]
    with replay(site) as server:
        source = WeiboSourceSettings(
            name="wb", base_url=server.url, uids=[UID], profiles=False, **FAST
        )
        store = SqliteStore(tmp_path / "radar.sqlite3")
        await store.open()
        runner = Runner(settings, store, Detector(), [source])
        await runner.start(schedule=False)
        assert await runner.collect_once("wb") == 3
        assert runner.health["wb"].cooling()
        requests = len(server.requests)
        assert await runner.collect_once("wb") == 0  # cooling down: not even asked
        assert len(server.requests) == requests
        await runner.stop()
        assert await stored_ids(store) == sorted(FIRST_CRAWL[:3])
        checkpoint = await store.get_checkpoint("wb")
        assert checkpoint is not None and "5230000000000300" in (checkpoint.cursor or "")
        await store.close()

        store = SqliteStore(tmp_path / "radar.sqlite3")
        await store.open()
        runner = Runner(settings, store, Detector(), [source])
        await runner.start(schedule=False)
        assert await runner.collect_once("wb", force=True) == 4
        await runner.stop()
        assert await stored_ids(store) == sorted(FIRST_CRAWL)
        assert await store.count_posts() == len(FIRST_CRAWL)
        await store.close()
        assert server.hits("/api/container/getIndex", containerid=TIMELINE, since_id="") == 1
