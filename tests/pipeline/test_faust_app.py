"""The worker's batch logic and the Kafka settings, without a broker.

The broker-backed behaviour (partitions, rebalances, SIGKILL, outage) is in
tests/integration/test_scaleout.py; here the pieces that must hold whatever Kafka does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from detectors import Detector
from pipeline.alerts.outbox_sqlite import SqliteOutbox
from pipeline.alerts.service import AlertService
from pipeline.alerts.settings import AlertRule, AlertSettings
from pipeline.config import ConfigError, load_settings
from pipeline.faust_app import BatchProcessor, StructCodec
from pipeline.kafka_settings import ALERTS_TOPIC, VERDICTS_TOPIC, KafkaSettings
from pipeline.models import AccountFact, AccountRisk, Alert, Post, ScoredPost, SourceState
from pipeline.post_bundles import decode_messages, fact_records, post_key_of
from pipeline.stages import fold_accounts, score_posts
from pipeline.store.sqlite import SqliteStore

SCHEME = "专业代理全额退保，不成功不收费，加vx：tb2025"
CHATTER = "西安回民街的肉夹馍名不虚传，一口下去全是汁"


def _post(i: int, text: str, author: str | None = "a1") -> Post:
    return Post(platform="weibo", post_id=f"p{i}", text=text, author_id=author)


class FlakyStore:
    """Fails ``failures`` times, then records what it is given. A write to a store that
    was never opened is an error, as it is for a real store."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.opened = 0
        self.batches: list[tuple[list[ScoredPost], list[AccountRisk]]] = []

    async def open(self) -> None:
        self.opened += 1

    async def close(self) -> None:
        pass

    async def write_batch(
        self,
        posts: Sequence[ScoredPost],
        accounts: Sequence[AccountRisk] = (),
        checkpoints: Sequence[SourceState] = (),
    ) -> None:
        if not self.opened:
            raise RuntimeError("written before it was open")
        if self.failures:
            self.failures -= 1
            raise ConnectionError("elasticsearch is down")
        self.batches.append((list(posts), list(accounts)))


class RecordingChannel:
    name = "email"

    def __init__(self) -> None:
        self.delivered: list[Alert] = []

    async def deliver(self, alert: Alert) -> None:
        self.delivered.append(alert)


def _alert_service(tmp_path: Path) -> tuple[AlertService, RecordingChannel]:
    """A real alert service on a SQLite outbox; only the e-mail channel is a recorder."""
    rule = AlertRule(name="high_risk", min_score=0.5, recipients=["team@example.org"])
    settings = AlertSettings(rules=[rule])
    outbox = SqliteOutbox(tmp_path / "radar.sqlite3", lease_seconds=60)
    channel = RecordingChannel()
    return AlertService(settings, outbox, {"email": channel}), channel


def _processor(
    detector: Detector, store: FlakyStore, alerts: AlertService | None = None
) -> tuple[BatchProcessor, list, dict]:
    sent: list[tuple[str, str, msgspec.Struct]] = []
    table: dict[str, AccountRisk] = {}
    kafka = KafkaSettings(retry_initial_seconds=0.01, retry_max_seconds=0.02)

    async def publish(topic: str, items: list[tuple[str, msgspec.Struct]]) -> None:
        sent.extend((topic, key, value) for key, value in items)

    processor = BatchProcessor(
        detector=detector,
        store=store,  # type: ignore[arg-type]
        table=table,
        publish=publish,
        kafka=kafka,
        alerts=alerts,
    )
    return processor, sent, table


async def test_a_failing_store_is_retried_and_nothing_is_published_before_it_succeeds(
    detector: Detector,
) -> None:
    store = FlakyStore(failures=3)
    processor, sent, table = _processor(detector, store)
    posts = [_post(1, SCHEME), _post(2, CHATTER), _post(3, SCHEME, author="a2")]
    await processor.process(posts)
    assert processor.counters.store_errors == 3
    assert store.opened == 1
    ((written, accounts),) = store.batches
    assert [s.post.key for s in written] == [p.key for p in posts]
    assert written == score_posts(detector, posts)  # the embedded runner's stage
    assert {a.key: a for a in accounts} == fold_accounts(written, {})
    assert table == fold_accounts(written, {})
    assert [t for t, _, _ in sent].count(VERDICTS_TOPIC) == 3


async def test_account_state_carries_across_batches_and_alerts_once(
    detector: Detector, tmp_path: Path
) -> None:
    service, channel = _alert_service(tmp_path)
    migrated = SqliteStore(tmp_path / "radar.sqlite3")  # the outbox's table is a migration
    await migrated.open()
    await migrated.close()
    processor, sent, table = _processor(detector, FlakyStore(failures=0), service)
    first, second = [_post(1, SCHEME)], [_post(2, SCHEME), _post(3, CHATTER)]
    await processor.process(first)
    await processor.process(second)
    await processor.process(first + second)  # re-delivered: nothing new is recorded
    expected = fold_accounts(score_posts(detector, first + second), {})
    assert table["weibo:a1"].total_posts == 3
    assert table == expected
    alerts = [(key, value) for topic, key, value in sent if topic == ALERTS_TOPIC]
    assert [key for key, _ in alerts] == ["weibo:a1"]  # flagged once, alerted once
    assert isinstance(alerts[0][1], Alert) and alerts[0][1].recipients == ["team@example.org"]
    report = await service.deliver_due()
    assert report.sent == 1 and [a.account_key for a in channel.delivered] == ["weibo:a1"]
    await processor.close()


async def test_redelivered_batch_gives_the_same_account(detector: Detector) -> None:
    processor, _, table = _processor(detector, FlakyStore(failures=0))
    batch = [_post(1, SCHEME), _post(2, CHATTER)]
    await processor.process(batch)
    once = dict(table)
    await processor.process(batch)  # at-least-once: the same batch again
    assert table == once


class SlowOpeningStore(FlakyStore):
    """Opens only when ``ready`` is set (until then it is not open, so a write fails);
    the first open fails if ``fail_first``."""

    def __init__(self, *, fail_first: bool = False) -> None:
        super().__init__(failures=0)
        self.ready = asyncio.Event()
        self.fail_next_open = fail_first
        self.attempts = 0

    async def open(self) -> None:
        self.attempts += 1
        await self.ready.wait()
        if self.fail_next_open:
            self.fail_next_open = False
            raise ConnectionError("the store is not up yet")
        self.opened += 1


async def test_the_worker_opens_its_store_at_start_without_alerts(detector: Detector) -> None:
    """A SQLite worker's writer process then spawns before the first batch, not in it."""
    store = SlowOpeningStore()
    processor, _, _ = _processor(detector, store)
    store.ready.set()
    await asyncio.wait_for(processor.run(), timeout=5)  # no alerts: returns once open
    assert store.opened == 1
    await processor.process([_post(1, SCHEME)])
    assert store.opened == 1 and len(store.batches) == 1


@pytest.mark.parametrize("fail_first", [False, True])
async def test_batches_arriving_while_the_store_opens_wait_for_it(
    detector: Detector, fail_first: bool
) -> None:
    store = SlowOpeningStore(fail_first=fail_first)
    processor, _, _ = _processor(detector, store)
    start = asyncio.create_task(processor.run())
    batches = [
        asyncio.create_task(processor.process([_post(i, SCHEME, author=f"a{i}")])) for i in range(3)
    ]
    await asyncio.sleep(0.05)
    assert store.attempts == 1  # one opener; the others wait for it
    store.ready.set()
    await asyncio.wait_for(asyncio.gather(start, *batches), timeout=5)
    assert store.opened == 1
    assert store.attempts == (2 if fail_first else 1)
    assert sorted(p.post.key for written, _ in store.batches for p in written) == [
        "weibo:p0",
        "weibo:p1",
        "weibo:p2",
    ]
    assert processor.counters.store_errors == (1 if fail_first else 0)


def test_struct_codec_round_trips_and_validates() -> None:
    codec = StructCodec(Post)
    post = _post(1, SCHEME)
    assert codec.loads(codec.dumps(post)) == post
    with pytest.raises(msgspec.ValidationError):
        codec.loads(b'{"platform": "weibo", "post_id": 1, "text": "x"}')


def test_posts_are_keyed_by_account_and_fall_back_to_their_own_key() -> None:
    assert post_key_of(_post(1, "x")) == "weibo:a1"
    assert post_key_of(_post(1, "x", author=None)) == "weibo:p1"


def test_kafka_settings_from_environment() -> None:
    settings = load_settings(
        environ={
            "RADAR_STREAM__KIND": "kafka",
            "RADAR_STREAM__KAFKA__BROKERS": "k1:9092, k2:9092",
            "RADAR_STREAM__KAFKA__PARTITIONS": "24",
            "RADAR_STREAM__KAFKA__TABLE_STORE": "rocksdb",
        }
    )
    kafka = settings.stream.kafka
    assert kafka.broker_list == ["k1:9092", "k2:9092"]
    assert kafka.partitions == 24
    assert kafka.table_store == "rocksdb"
    assert kafka.aiokafka_options() == {
        "bootstrap_servers": "k1:9092,k2:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_kafka_settings_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"stream\.kafka"):
        load_settings(environ={"RADAR_STREAM__KAFKA__PARTITIONS": "0"})
    with pytest.raises(ConfigError, match="table_store"):
        load_settings(environ={"RADAR_STREAM__KAFKA__TABLE_STORE": "redis"})
    with pytest.raises(ConfigError, match="take_messages"):
        load_settings(environ={"RADAR_STREAM__KAFKA__TAKE_MESSAGES": "0"})
    assert load_settings(environ={}).stream.kafka.take_messages == 100


def test_sasl_credentials_come_from_the_named_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    kafka = msgspec.convert(
        {"sasl": {"mechanism": "PLAIN", "username_env": "KU", "password_env": "KP"}},
        KafkaSettings,
    )
    with pytest.raises(ValueError, match="KU"):
        kafka.aiokafka_options()
    monkeypatch.setenv("KU", "radar")
    monkeypatch.setenv("KP", "s3cret")
    options = kafka.aiokafka_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("radar", "s3cret")


async def test_a_take_of_bundles_is_written_batch_size_posts_at_a_time_and_bad_messages_are_rejects(
    detector: Detector, tmp_path: Path
) -> None:
    """A take of 3 messages can hold many more posts than ``batch_size``: they are scored
    and written in slices of ``batch_size``; a message that is no post is a counted reject
    in the real store, and its neighbours are all written."""
    store = SqliteStore(tmp_path / "radar.sqlite3")
    table: dict[str, AccountRisk] = {}

    async def publish(topic: str, items: list[tuple[str, msgspec.Struct]]) -> None:
        pass

    processor = BatchProcessor(
        detector=detector,
        store=store,
        table=table,
        publish=publish,
        kafka=KafkaSettings(batch_size=4, publish_verdicts=False),
    )
    posts = [_post(i, SCHEME if i % 3 == 0 else CHATTER, author=f"a{i % 2}") for i in range(10)]
    messages = [
        (msgspec.json.encode(posts[:7]), "partition 0 offset 0"),
        (b"{not json", "partition 0 offset 1"),
        (msgspec.json.encode(posts[7:]), "partition 0 offset 2"),
    ]
    try:
        await processor.process_messages(decode_messages(messages, "radar.posts.raw"))
        stats = await store.stats()
    finally:
        await processor.close()
    assert processor.counters.batches == 3  # 4 + 4 + 2 posts
    assert processor.counters.posts == 10 and processor.counters.rejects == 1
    assert stats.posts == 10 and stats.rejects == 1
    assert table == fold_accounts(score_posts(detector, posts), {})


async def test_the_ring_jobs_facts_are_folded_with_the_take_they_arrive_in(
    detector: Detector,
) -> None:
    """A take of posts with facts behind them, then a take of facts alone: the accounts
    get the template bonus (as the embedded runner's fold gives it), a fact about an
    account this worker never folded is dropped, and facts publish no verdicts."""
    store = FlakyStore(failures=0)
    processor, sent, table = _processor(detector, store)
    posts = [_post(1, SCHEME), _post(2, CHATTER, author="a2")]
    facts = [AccountFact("weibo:a1", True), AccountFact("weibo:nobody", True)]
    take = [
        (msgspec.json.encode(posts), "partition 0 offset 0"),
        *((v, f"partition 0 offset {n}") for n, (_, v, _) in enumerate(_facts(facts), 1)),
    ]
    await processor.process_messages(decode_messages(take, "radar.posts.raw"))
    expected = fold_accounts(score_posts(detector, posts), {}, facts)
    assert table == expected and table["weibo:a1"].shares_template
    assert "weibo:nobody" not in table
    assert [a.key for a in store.batches[-1][1]] == ["weibo:a1", "weibo:a2"]

    verdicts = len(sent)
    back = [AccountFact("weibo:a1", False)]
    await processor.process_messages(
        decode_messages([(v, "partition 0 offset 9") for _, v, _ in _facts(back)], "t")
    )
    assert table["weibo:a1"] == fold_accounts(score_posts(detector, posts), {})["weibo:a1"]
    assert [a.key for a in store.batches[-1][1]] == ["weibo:a1"]
    assert len(sent) == verdicts and processor.counters.facts == 3


def _facts(facts: list[AccountFact]) -> list[tuple[bytes, bytes, int]]:
    return fact_records(facts, [0], max_bytes=256 * 1024)
