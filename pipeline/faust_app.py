"""The scale-out runner: one faust app, its topics, the account table and one agent.

The agent calls the same stage functions as the in-process runner
(:func:`pipeline.stages.score_posts` on a batch, then :func:`pipeline.stages.fold_accounts`,
which is :func:`detectors.accounts.fold_post` per post), so both modes give the same
verdicts and the same account risks by construction.

Delivery (DESIGN.md "Identity and delivery"): a batch's offsets may be committed only
after its posts and accounts are durable in the store. faust acks messages the agent
never processed: ``stream.take_events`` acks a take when the agent stops (a rebalance, a
SIGTERM, a crash), and a stream acks the messages it skips during a rebalance. So the
worker's consumer (:class:`pipeline.faust_consumer.ProcessedOnlyConsumer`) refuses every
ack on the posts topic but those of messages the agent marked processed, which it does
only after the store write, the alert outbox record, and the broker's acks for the
batch's alerts, verdicts and account changelog records succeeded. A failing store write
is retried with backoff, forever: the partition pauses (faust stops fetching once its
buffer is full), and resumes where it stopped when the store is back.

Partitions are isolated (one actor per partition): a batch then holds one partition's
posts, which is what the table needs, since faust files a table write under the partition
of the event being processed.

Records: the messages are the schema's own msgspec Structs (``Post``, ``ScoredPost``,
``AccountRisk``, ``Alert``) carried as JSON; the schema stays in one place. Posts and
verdicts travel in bundles (a JSON array of one partition's records,
:mod:`pipeline.post_bundles`), because faust's fixed cost per message was most of a
worker's time; the account changelog stays one record per key (compaction needs it).
The ring job's account facts (``AccountFact``) come on the posts topic too, on their accounts'
partitions, and are folded with the posts of the take they arrive in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import faust
import msgspec
from faust.serializers.codecs import Codec

from detectors import Detector
from pipeline.alerts.service import AlertService, build_alerts
from pipeline.config import Settings
from pipeline.faust_consumer import ProcessedOnlyConsumer, RadarFaustApp
from pipeline.faust_table import BatchChangelogTable, produce_all, topic_partitions
from pipeline.kafka_settings import (
    ACCOUNTS_TOPIC,
    ALERTS_TOPIC,
    POSTS_TOPIC,
    VERDICTS_TOPIC,
    KafkaSettings,
)
from pipeline.models import AccountFact, AccountRisk, Alert, Post, ScoredPost
from pipeline.post_bundles import Decoded, bundle, decode_messages, post_key_of
from pipeline.stages import fold_accounts, score_posts
from pipeline.store.base import Store
from pipeline.store.factory import open_store

log = logging.getLogger("radar.worker")
_T = TypeVar("_T")

__all__ = ["BatchProcessor", "RadarApp", "StructCodec", "build_app", "open_store"]


class StructCodec(Codec):
    """JSON for one msgspec Struct type: typed decode (validated), ~1 µs encode."""

    def __init__(self, struct_type: type[msgspec.Struct], **kwargs: Any) -> None:
        super().__init__(struct_type=struct_type, **kwargs)
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(struct_type)

    def _dumps(self, s: Any) -> bytes:
        return self._encoder.encode(s)

    def _loads(self, s: bytes) -> Any:
        return self._decoder.decode(s)


@dataclass
class Counters:
    batches: int = 0
    posts: int = 0
    flagged: int = 0
    store_errors: int = 0
    alerts: int = 0
    rejects: int = 0
    facts: int = 0


@dataclass
class BatchProcessor:
    """One batch: score, fold accounts, write the store (retrying), record alerts
    (retrying), update the table, publish alerts and verdicts. No faust in here: the table
    is any mutable mapping and ``publish`` any coroutine function, so the logic is
    testable without a broker.

    ``publish(topic, [(key, value), ...])`` returns once the broker has every message:
    one call per topic per batch, because faust's per-message ``send_soon`` path (a
    buffer drained one ``wait_for`` at a time) cost more CPU than the whole rest of the
    worker when each verdict went through it (bench/README.md).

    Alerts are recorded in the outbox after the store write and before the batch is
    acked, so a crash in between replays the batch and records them then (the outbox is
    idempotent). ``radar.alerts`` carries the alerts recorded, for other consumers; the
    outbox is what the senders deliver from."""

    detector: Detector
    store: Store
    table: MutableMapping[str, AccountRisk]
    publish: Callable[[str, list[tuple[str, msgspec.Struct]]], Awaitable[None]]
    kafka: KafkaSettings
    alerts: AlertService | None = None
    counters: Counters = field(default_factory=Counters)
    _store_open: bool = False
    _alerts_open: bool = False
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def process_messages(self, decoded: Decoded) -> None:
        """One take of messages: their posts ``batch_size`` at a time (a take of bundles
        holds many more posts than messages), the ring job's account facts with the last
        of them, and the messages that held neither recorded as rejects, all before the
        take may be acked."""
        if decoded.rejects:
            rejects = decoded.rejects
            log.warning("%d message(s) on %s were not posts", len(rejects), POSTS_TOPIC)
            await self._retry("reject record", lambda: self.store.record_rejects(rejects))
            self.counters.rejects += len(rejects)
        size, posts = self.kafka.batch_size, decoded.posts
        for start in range(0, len(posts), size):
            last = start + size >= len(posts)
            await self.process(posts[start : start + size], decoded.facts if last else ())
        if decoded.facts and not posts:
            await self.process((), decoded.facts)

    async def process(self, posts: Sequence[Post], facts: Sequence[AccountFact] = ()) -> None:
        scored = score_posts(self.detector, posts) if posts else []
        keys = {p.account_key for p in posts if p.account_key is not None}
        keys.update(fact.account_key for fact in facts)
        states = {key: risk for key in keys if (risk := self.table.get(key)) is not None}
        accounts = fold_accounts(scored, states, facts)
        self.counters.facts += len(facts)
        changed = list(accounts.values())
        await self._retry("store write", lambda: self.store.write_batch(scored, changed))
        recorded: list[Alert] = []
        if self.alerts is not None:
            alerts = self.alerts
            recorded = await self._retry(
                "alert record", lambda: alerts.after_write(states, changed, scored)
            )
        for key, risk in accounts.items():
            self.table[key] = risk
        if recorded:
            self.counters.alerts += len(recorded)
            await self.publish(ALERTS_TOPIC, [(_alert_key(a), a) for a in recorded])
        if self.kafka.publish_verdicts and scored:
            await self.publish(VERDICTS_TOPIC, [(post_key_of(s.post), s) for s in scored])
        self.counters.batches += 1
        self.counters.posts += len(scored)
        self.counters.flagged += sum(item.verdict.flagged for item in scored)

    async def ensure_open(self) -> None:
        """Open the store and the alert outbox if they are not. One opener at a time: the
        start-up task and every partition's first batch may all ask at once, and a second
        caller must wait for the first's open to finish (or fail), not write to a store
        still opening."""
        async with self._opening:
            if not self._store_open:
                await self.store.open()
                self._store_open = True
            if self.alerts is not None and not self._alerts_open:
                await self.alerts.open()
                self._alerts_open = True

    async def _retry(self, what: str, step: Callable[[], Awaitable[_T]]) -> _T:
        """Retry until ``step`` succeeds: never give up, never ack before."""
        delay = self.kafka.retry_initial_seconds
        failures = 0
        while True:
            try:
                await self.ensure_open()
                result = await step()
                if failures:
                    log.info("%s succeeded again after %d failure(s)", what, failures)
                return result
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down or refusing: wait, retry
                failures += 1
                self.counters.store_errors += 1
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.kafka.retry_max_seconds)

    async def run(self) -> None:
        """The worker's own task, for its life: the store and the alert outbox opened at
        start, then the alert sender.

        Why open at start, not with the first batch: a SQLite worker's writer is a process
        of its own, and spawning it (~0.5 s) held up every partition's first batch; and a
        store that cannot be opened shows in the log before any post arrives. Every worker
        runs a sender: the outbox leases what each sender claims, so no alert goes out
        twice."""
        await self._retry("opening the store and the alert outbox", self.ensure_open)
        if self.alerts is not None:
            await self.alerts.run(self._stop)

    async def close(self) -> None:
        self._stop.set()
        if self._alerts_open and self.alerts is not None:
            await self.alerts.close()
            self._alerts_open = False
        if self._store_open:
            await self.store.close()
            self._store_open = False


def _alert_key(alert: Alert) -> str:
    """Kafka key of an alert: its account, like every other radar topic."""
    return alert.account_key or alert.post_key or alert.dedupe_key


@dataclass
class RadarApp:
    app: faust.App
    posts: Any  # faust TopicT
    accounts: Any  # faust Table
    processor: BatchProcessor


def _broker_credentials(kafka: KafkaSettings) -> Any:
    if kafka.sasl is not None:
        username, password = kafka.sasl.credentials()
        return faust.SASLCredentials(
            username=username,
            password=password,
            mechanism=kafka.sasl.mechanism,
            ssl_context=kafka.tls.context() if kafka.tls else None,
        )
    if kafka.tls is not None:
        return faust.SSLCredentials(kafka.tls.context())
    return None


def _faust_app(settings: Settings) -> faust.App:
    kafka = settings.stream.kafka
    state_dir = Path(kafka.state_dir).expanduser()
    if not state_dir.is_absolute():
        state_dir = settings.data_path / state_dir
    return RadarFaustApp(
        kafka.group_id,
        broker=[f"kafka://{b}" for b in kafka.broker_list],
        broker_credentials=_broker_credentials(kafka),
        store="rocksdb://" if kafka.table_store == "rocksdb" else "memory://",
        datadir=str(state_dir),
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication,
        autodiscover=False,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=kafka.session_timeout_seconds,
        broker_heartbeat_interval=kafka.heartbeat_interval_seconds,
        broker_rebalance_timeout=kafka.session_timeout_seconds,
        broker_commit_interval=kafka.commit_interval_seconds,
        stream_wait_empty=False,
        recovery_consistency_check=kafka.recovery_consistency_check,
        table_standby_replicas=kafka.standby_replicas,
        producer_max_batch_size=kafka.producer_max_batch_bytes,
    )


def build_app(
    settings: Settings, *, detector: Detector | None = None, store: Store | None = None
) -> RadarApp:
    """The worker's faust app. ``radar worker`` runs it; tests and the bench build it too."""
    kafka = settings.stream.kafka
    app = _faust_app(settings)
    topic_options = {"partitions": kafka.partitions, "replicas": kafka.replication}
    # Values stay bytes here: the agent decodes posts and bundles itself, so a message
    # that is neither becomes a counted reject instead of a faust decode error.
    posts = app.topic(POSTS_TOPIC, key_type=str, value_serializer="raw", **topic_options)
    codecs = {
        VERDICTS_TOPIC: StructCodec(ScoredPost),
        ALERTS_TOPIC: StructCodec(Alert),
    }
    out = {
        name: app.topic(name, key_type=str, value_serializer=codec, **topic_options)
        for name, codec in codecs.items()
    }
    account_codec = StructCodec(AccountRisk)
    accounts = app.tables.add(
        BatchChangelogTable(
            app,
            name="accounts",
            default=None,
            beacon=app.tables.beacon,
            key_type=str,
            partitions=kafka.partitions,
            changelog_topic=app.topic(
                ACCOUNTS_TOPIC,
                key_type=str,
                value_serializer=account_codec,
                compacting=True,
                **topic_options,
            ),
        )
    )

    # Table() takes its serializers from model types; ours is a msgspec Struct.
    accounts.key_serializer, accounts.value_serializer = "raw", account_codec

    encoder = msgspec.json.Encoder()
    # Verdicts travel in bundles like posts (one per bundle_posts verdicts of a
    # partition); alerts are few and go one per message.
    per_message = {VERDICTS_TOPIC: kafka.bundle_posts, ALERTS_TOPIC: 1}

    async def publish(topic: str, items: list[tuple[str, msgspec.Struct]]) -> None:
        await out[topic].maybe_declare()  # once per topic; faust's send path did this
        encoded = ((key.encode(), encoder.encode(value)) for key, value in items)
        partitions = await topic_partitions(app, topic)
        records = bundle(encoded, partitions, per_message[topic], kafka.bundle_max_bytes)
        await produce_all(app, topic, records)  # acks=all before the batch is acked

    store = store or open_store(settings, worker=True)
    processor = BatchProcessor(
        detector=detector or Detector(),
        store=store,
        table=accounts,
        publish=publish,
        kafka=kafka,
        alerts=build_alerts(settings, store),
    )

    @app.agent(posts, name="radar.score", isolated_partitions=True)
    async def score(stream: Any) -> None:
        async for events in stream.take_events(kafka.take_messages, kafka.batch_timeout_seconds):
            # take_events fills its buffer in another task, so this one has no current
            # event; the table files writes under the current event's partition, and with
            # isolated partitions every event of the batch has the same one.
            stream._set_current_event(events[-1])
            messages = (
                (e.value, f"partition {e.message.partition} offset {e.message.offset}")
                for e in events
            )
            await processor.process_messages(decode_messages(messages, POSTS_TOPIC))
            # verdicts and alerts are already out; the table's records now
            await accounts.flush_changelog(events[-1].message.partition)
            # durable: take_events' ack of these (when the agent asks for more) commits them
            consumer = cast(ProcessedOnlyConsumer, app.consumer)
            consumer.mark_processed(event.message for event in events)

    @app.task
    async def open_store_and_deliver_alerts() -> None:
        await processor.run()

    @app.on_before_shutdown.connect
    async def _close(*_: Any, **__: Any) -> None:
        await processor.close()

    return RadarApp(app=app, posts=posts, accounts=accounts, processor=processor)
