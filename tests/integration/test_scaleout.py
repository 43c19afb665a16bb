"""The scale-out mode end to end on real servers: tansu (Kafka API), osmem (Elasticsearch
API), two ``radar worker`` processes in one consumer group.

One run checks the whole delivery story: posts are produced the way ``radar collect``
publishes them; one worker is SIGKILLed mid-stream and restarted; the Elasticsearch
server is paused long enough for every write to time out, then resumed. At the end every
post is in the index exactly once, every verdict equals what the embedded runner's stage
(:func:`pipeline.stages.score_posts`) gives for the same post, and every account's risk
equals the in-order fold of its posts (:func:`pipeline.stages.fold_accounts`).

Size: ``SCALEOUT_POSTS`` (default 20,000); on the 2-core box the whole run takes ~2 min
10 s, most of it osmem indexing. ``SCALEOUT_TABLE_STORE=rocksdb`` runs the account table
on RocksDB (needs the ``rocksdb`` extra) instead of memory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from scaleout_support import (
    Tansu,
    Worker,
    create_topic,
    generate_posts,
    group_progress,
    log_lines,
    produce,
    risk_differences,
    start_osmem,
    verdict_differences,
    write_config,
)

from detectors import Detector
from pipeline.models import ScoredPost
from pipeline.stages import fold_accounts, score_posts
from pipeline.store import es_docs
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.es_settings import ElasticsearchSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

COUNT = int(os.environ.get("SCALEOUT_POSTS", "20000"))
# "memory" (default) or "rocksdb" (needs the `rocksdb` extra: rocksdict)
TABLE_STORE = os.environ.get("SCALEOUT_TABLE_STORE", "memory")
ACCOUNTS = max(COUNT // 10, 1)
PARTITIONS = 4
DEADLINE_SECONDS = 330.0
OUTAGE_SECONDS = 15.0  # > the workers' request_timeout: every write fails


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tansu, object]]:
    logs = tmp_path_factory.mktemp("servers")
    tansu = Tansu.start(logs / "tansu.log")
    osmem = start_osmem()
    try:
        yield tansu, osmem
    finally:
        osmem.process.send_signal(signal.SIGCONT)
        osmem.close()
        tansu.stop()


@pytest.fixture
async def probe(servers: tuple[Tansu, object]) -> AsyncIterator[ElasticsearchStore]:
    """The test's own view of the index (short timeout: it polls while ES is paused)."""
    _, osmem = servers
    store = ElasticsearchStore(
        ElasticsearchSettings(
            hosts=[osmem.url],  # type: ignore[attr-defined]
            compat="opensearch",
            request_timeout=5.0,
            retries=0,
        )
    )
    yield store
    await store.close()


async def _count(store: ElasticsearchStore) -> int | None:
    try:
        if store._client is None:
            await store.open()
        return await store.count_posts()
    except Exception:
        return None  # paused or busy: ask again


async def _wait_for(
    store: ElasticsearchStore, target: int, workers: list[Worker], started: float, tansu: Tansu
) -> int:
    seen = 0
    while time.monotonic() - started < DEADLINE_SECONDS:
        for worker in workers:
            code = worker.process.poll() if worker.process else None
            assert code is None, f"worker exited ({code}):\n{worker.log()[-3000:]}"
        seen = await _count(store) or seen
        if seen >= target:
            return seen
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"only {seen}/{target} posts indexed in time\n{await _stall_report(workers, tansu)}"
    )


async def _stall_report(workers: list[Worker], tansu: Tansu) -> str:
    """Where each partition's group stands against its end, and each worker's last events."""
    progress = await group_progress(tansu.bootstrap, "radar", PARTITIONS)
    lines = [
        f"partition {partition}: committed {committed}, end {end}"
        for partition, (committed, end) in sorted(progress.items())
    ]
    for i, worker in enumerate(workers):
        lines += [f"--- worker {i} ---", worker.log_events()]
    return "\n".join(lines)


def _log_count(workers: list[Worker], needle: str) -> int:
    return sum(1 for w in workers for _ in log_lines(w.log_path, needle))


async def _indexed(store: ElasticsearchStore, keys: list[str]) -> dict[str, list[ScoredPost]]:
    """Every stored copy of every key, looked up by ``_id`` through the read alias."""
    found: dict[str, list[ScoredPost]] = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        resp = await store.client.search(
            index=store.alias, query={"ids": {"values": chunk}}, size=len(chunk) * 2
        )
        for hit in resp["hits"]["hits"]:
            doc = es_docs.hit_from_source(hit["_source"])
            found.setdefault(hit["_id"], []).append(ScoredPost(post=doc.post, verdict=doc.verdict))
    return found


async def test_two_workers_survive_a_kill_and_an_outage_with_embedded_results(
    servers: tuple[Tansu, object], probe: ElasticsearchStore, tmp_path: Path
) -> None:
    tansu, osmem = servers
    es_url = osmem.url  # type: ignore[attr-defined]
    config = write_config(
        tmp_path / "radar.toml",
        tansu.bootstrap,
        es_url,
        partitions=PARTITIONS,
        table_store=TABLE_STORE,
    )
    posts = generate_posts(COUNT, ACCOUNTS)
    await create_topic(tansu.bootstrap, PARTITIONS)
    workers = [Worker(config, tmp_path / f"worker-{i}.log") for i in range(2)]
    started = time.monotonic()
    try:
        for worker in workers:
            worker.start()
        await produce(tansu.bootstrap, posts)

        # SIGKILL one worker mid-stream, restart it: its partitions move and come back.
        await _wait_for(probe, COUNT // 4, workers, started, tansu)
        workers[0].kill()
        killed_at = await _count(probe)
        await asyncio.sleep(1.0)
        workers[0].start()

        # Elasticsearch stops answering for a while: every write times out.
        await _wait_for(probe, (COUNT * 3) // 5, workers, started, tansu)
        failed_before = _log_count(workers, "store write failed")
        resumed_before = _log_count(workers, "store write succeeded again")
        osmem.process.send_signal(signal.SIGSTOP)  # type: ignore[attr-defined]
        await asyncio.sleep(OUTAGE_SECONDS)
        osmem.process.send_signal(signal.SIGCONT)  # type: ignore[attr-defined]

        await _wait_for(probe, COUNT, workers, started, tansu)
        elapsed = time.monotonic() - started
        await asyncio.sleep(3.0)  # replays after the kill may still be rewriting
    finally:
        for worker in workers:
            worker.stop()
    print(f"\n{COUNT} posts indexed in {elapsed:.1f}s (kill at {killed_at} indexed)")

    # The outage was seen and ridden out: writes failed (and were not acked), then resumed.
    assert _log_count(workers, "store write failed") > failed_before
    assert _log_count(workers, "store write succeeded again") > resumed_before

    # Exactly once: every key has one copy in one monthly index, nothing else is there.
    assert await probe.count_posts() == COUNT
    expected = [
        s for i in range(0, COUNT, 500) for s in score_posts(Detector(), posts[i : i + 500])
    ]
    stored = await _indexed(probe, [s.post.key for s in expected])
    assert len(stored) == COUNT
    assert [k for k, copies in stored.items() if len(copies) != 1] == []

    # Same verdicts as the embedded runner's stage, post by post.
    wrong = {
        s.post.key: diff
        for s in expected
        if (diff := verdict_differences(stored[s.post.key][0].verdict, s.verdict))
    }
    assert wrong == {}, f"{len(wrong)} verdicts differ, e.g. {list(wrong.items())[:3]}"
    assert sum(s.verdict.flagged for s in expected) > 0  # the sample has schemes in it

    # Same account risks as folding every account's posts in order.
    accounts = fold_accounts(expected, {})
    got = await probe.get_accounts(sorted(accounts))
    assert sorted(got) == sorted(accounts)
    differ = {
        key: risk_differences(got[key], risk) for key, risk in accounts.items() if got[key] != risk
    }
    assert differ == {}, f"{len(differ)} accounts differ, e.g. {list(differ.items())[:2]}"
    assert any(risk.flagged for risk in accounts.values())
