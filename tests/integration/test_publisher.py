"""``radar collect`` in the scale-out mode publishes to a real broker (tansu).

Every post of a page reaches ``radar.posts.raw`` keyed by its account key (so an
account's posts share a partition), and the page's checkpoint reaches the store only
after the brokers acknowledged the posts: a second run publishes nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer
from scaleout_support import FEED, Tansu

from pipeline.config import load_settings
from pipeline.faust_app import post_key_of
from pipeline.kafka_settings import POSTS_TOPIC
from pipeline.models import Post
from pipeline.publisher import Publisher
from pipeline.store.sqlite import SqliteStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[Tansu]:
    broker = Tansu.start(tmp_path / "tansu.log")
    yield broker
    broker.stop()


async def _consume_all(bootstrap: str, expected: int) -> list[tuple[bytes, Post]]:
    consumer = AIOKafkaConsumer(
        POSTS_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="t"
    )
    await consumer.start()
    decoder = msgspec.json.Decoder(Post)
    out: list[tuple[bytes, Post]] = []
    try:
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                out += [(r.key, decoder.decode(r.value)) for r in records]
            if len(out) >= expected and not batches:
                break
    finally:
        await consumer.stop()
    return out


async def test_collect_publishes_keyed_posts_then_checkpoints(tansu: Tansu, tmp_path: Path) -> None:
    config = tmp_path / "radar.toml"
    config.write_text(
        f"""
[sample]
enabled = false
[stream]
kind = "kafka"
[stream.kafka]
brokers = ["{tansu.bootstrap}"]
producer_idempotence = false
[[sources]]
kind = "files"
name = "feed"
path = "{FEED}"
format = "jsonl"
page_size = 100
""",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    publisher = Publisher(settings, store, settings.sources)
    await publisher.start(schedule=False)
    try:
        published = await publisher.collect_once("feed")
        again = await publisher.collect_once("feed")
    finally:
        await publisher.stop()
    checkpoint = await store.get_checkpoint("feed")
    await store.close()

    lines = [line for line in FEED.read_text("utf-8").splitlines() if line.strip()]
    assert published == len(lines)
    assert again == 0  # the checkpoint moved past everything published
    assert checkpoint is not None and checkpoint.posts_total == published

    received = await _consume_all(tansu.bootstrap, published)
    assert len(received) == published
    assert all(key == post_key_of(post).encode() for key, post in received)
    assert len({post.key for _, post in received}) == published


@pytest.mark.parametrize("enabled", [True, False])
async def test_collect_schedules_the_takedown_job_unless_a_cronjob_runs_it(
    tansu: Tansu, tmp_path: Path, enabled: bool
) -> None:
    """In the scale-out mode `radar collect` is the one scheduler process, so it owns the
    weekly takedown job (even with no polled source), unless turned off for a CronJob."""
    settings = load_settings(
        None,
        environ={
            "RADAR_SAMPLE__ENABLED": "false",
            "RADAR_STREAM__KIND": "kafka",
            "RADAR_STREAM__KAFKA__BROKERS": tansu.bootstrap,
            "RADAR_STREAM__KAFKA__PRODUCER_IDEMPOTENCE": "false",
            "RADAR_TAKEDOWN__ENABLED": str(enabled).lower(),
        },
    )
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    publisher = Publisher(settings, store, [])
    await publisher.start()
    try:
        job = publisher._scheduler.get_job("takedown") if publisher._scheduler else None
    finally:
        await publisher.stop()
        await store.close()
    assert (job is not None) is enabled
    if job is not None:
        assert job.next_run_time.strftime("%A %H:%M") == "Monday 09:00"
