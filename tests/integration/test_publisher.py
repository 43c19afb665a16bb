"""``radar collect`` in the scale-out mode publishes to a real broker (tansu).

Every post of a page reaches ``radar.posts.raw``, in bundles that sit on the partition of
their posts' account keys (so an account's posts share a partition, in order), and the
page's checkpoint reaches the store only after the brokers acknowledged the posts: a
second run publishes nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer
from scaleout_support import FEED, Tansu, create_topic

from pipeline.config import load_settings
from pipeline.kafka_settings import POSTS_TOPIC
from pipeline.models import Post
from pipeline.post_bundles import partition_of, post_key_of
from pipeline.publisher import Publisher
from pipeline.store.sqlite import SqliteStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[Tansu]:
    broker = Tansu.start(tmp_path / "tansu.log")
    yield broker
    broker.stop()


PARTITIONS = 4


async def _consume_all(bootstrap: str, expected: int) -> list[tuple[int, bytes, list[Post]]]:
    """Every message as (partition, key, its posts), in each partition's order."""
    consumer = AIOKafkaConsumer(
        POSTS_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="t"
    )
    await consumer.start()
    decoder = msgspec.json.Decoder(Post | list[Post])
    out: list[tuple[int, bytes, list[Post]]] = []
    try:
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    value = decoder.decode(r.value)
                    out.append((r.partition, r.key, value if isinstance(value, list) else [value]))
            if sum(len(posts) for _, _, posts in out) >= expected and not batches:
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
    await create_topic(tansu.bootstrap, PARTITIONS)
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
    posts = [post for _, _, bundle in received for post in bundle]
    assert len(posts) == published
    assert len({post.key for post in posts}) == published
    assert len(received) < published / 10  # bundled: far fewer messages than posts
    everything = list(range(PARTITIONS))
    for partition, key, bundle in received:
        # every post sits where a message keyed by its account would, and so does the key
        assert partition_of(key, everything) == partition
        for post in bundle:
            assert partition_of(post_key_of(post).encode(), everything) == partition
    # an account's posts arrive in the feed's order
    feed_order = {msgspec.json.decode(line)["id"]: i for i, line in enumerate(lines)}
    by_account: dict[str, list[int]] = {}
    for post in posts:
        by_account.setdefault(post_key_of(post), []).append(feed_order[post.post_id])
    assert all(order == sorted(order) for order in by_account.values())
    assert len(by_account) > PARTITIONS  # the check spans several partitions


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
