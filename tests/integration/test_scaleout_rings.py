"""The live template bonus in the scale-out mode, on real servers: tansu (Kafka API),
osmem (Elasticsearch API), one ``radar worker``, and ``radar rings`` as an operator runs
it.

The ring job finds the accounts posting a copied ad, and sends each an ``AccountFact`` on
``radar.posts.raw``, on the account's partition; the worker that owns the partition folds
it into the account. At the end every account in the store has the score and flag that
``radar scan --accounts`` gives for the same posts, template bonus included.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from scaleout_support import (
    Tansu,
    Worker,
    create_topic,
    produce,
    radar_cli,
    start_osmem,
    write_config,
)

from collectors.records import post_from_record
from detectors import Detector
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.es_settings import ElasticsearchSettings
from tests.pipeline.copied_ads import feed_with_copied_ads, scanned_accounts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_ring_job_facts_reach_the_worker_and_scores_match_the_scan(tmp_path: Path) -> None:
    detector = Detector()
    records = feed_with_copied_ads(detector)
    posts = [
        post_from_record(
            r, source="feed", default_platform="unknown", tz=ZoneInfo("UTC"), max_text_chars=10_000
        )
        for r in records
    ]
    scanned = scanned_accounts(records, detector)
    tansu = Tansu.start(tmp_path / "tansu.log")
    osmem = start_osmem()
    probe = ElasticsearchStore(ElasticsearchSettings(hosts=[osmem.url], compat="opensearch"))
    config = write_config(tmp_path / "radar.toml", tansu.bootstrap, osmem.url)
    worker = Worker(config, tmp_path / "worker.log")
    try:
        await create_topic(tansu.bootstrap, 4)
        worker.start()
        await produce(tansu.bootstrap, posts)
        await probe.open()
        await _until(lambda: _indexed(probe, len(posts)), worker, "posts indexed")
        before = await probe.get_accounts(list(scanned))

        rings = radar_cli(config, "rings", "--json")
        assert rings.returncode == 0, rings.stderr
        report = json.loads(rings.stdout)
        assert report["template_facts_sent"] == 9  # three ads, by an author and two copiers

        sharing = [k for k in scanned if "广告模板" in " ".join(scanned[k]["reasons"])]
        await _until(lambda: _all_share(probe, sharing), worker, "facts folded")
        after = await probe.get_accounts(list(scanned))
        again = radar_cli(config, "rings", "--json")
    finally:
        worker.stop()
        await probe.close()
        osmem.close()
        tansu.stop()

    assert len(sharing) == 9
    assert any(before[k].score != after[k].score for k in sharing)  # the bonus showed
    mismatched = {
        key: ((risk.score, risk.flagged), (scanned[key]["score"], scanned[key]["flagged"]))
        for key, risk in after.items()
        if (risk.score, risk.flagged) != (scanned[key]["score"], scanned[key]["flagged"])
    }
    assert mismatched == {}
    assert len(after) == len(scanned)
    assert again.returncode == 0 and json.loads(again.stdout)["template_facts_sent"] == 0


async def _until(check, worker: Worker, what: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert worker.process and worker.process.poll() is None, worker.log()[-3000:]
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {worker.log()[-3000:]}")


async def _indexed(store: ElasticsearchStore, n: int) -> bool:
    return await store.count_posts() == n


async def _all_share(store: ElasticsearchStore, keys: list[str]) -> bool:
    found = await store.get_accounts(keys)
    return all(key in found and found[key].shares_template for key in keys)
