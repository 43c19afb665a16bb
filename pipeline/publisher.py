"""``radar collect`` in the scale-out mode: collectors + APScheduler publishing to Kafka.

The collector process does no detection: it fetches pages, drops repeats it has already
published (:class:`pipeline.stages.Deduper`), and sends the posts to ``radar.posts.raw``
in bundles, each on the partition of its posts' account keys (so an account's posts share
a partition and stay in order; :mod:`pipeline.post_bundles` says why bundles). The
producer is idempotent with ``acks=all``; a page's checkpoint is written to the store only
after every post of the page is acknowledged by the brokers, so a crash re-reads the page
instead of losing it (at-least-once; the workers' upserts make repeats harmless).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from collectors.base import Collector, CollectorContext, SourceSettings
from collectors.health import DEFAULT_COOLDOWN_SECONDS, SourceHealth, run_failed
from collectors.registry import build_collector
from collectors.scheduler import build_scheduler
from pipeline.config import Settings
from pipeline.kafka_settings import POSTS_TOPIC, KafkaSettings
from pipeline.models import Post, SourceState
from pipeline.post_bundles import (
    DEFAULT_BUNDLE_BYTES,
    DEFAULT_BUNDLE_POSTS,
    bundle_records,
    send_records,
)
from pipeline.rings.facts import kafka_sink
from pipeline.rings.schedule import add_rings_job
from pipeline.stages import Deduper
from pipeline.store.base import Store
from pipeline.takedown.schedule import add_takedown_job

log = logging.getLogger("radar.collect")


def make_producer(kafka: KafkaSettings) -> AIOKafkaProducer:
    """acks=all (+ idempotence): a retried send is written once, in order, per partition;
    the posts' keys make any duplicate that gets through an upsert downstream."""
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=kafka.producer_idempotence,
        linger_ms=5,
        max_batch_size=256 * 1024,
        **kafka.aiokafka_options(),  # type: ignore[arg-type]
    )


async def publish_posts(
    producer: AIOKafkaProducer,
    posts: Sequence[Post],
    *,
    bundle_posts: int = DEFAULT_BUNDLE_POSTS,
    bundle_max_bytes: int = DEFAULT_BUNDLE_BYTES,
) -> None:
    """Send ``posts`` in bundles (:mod:`pipeline.post_bundles`) and wait until the brokers
    have every one (raises if any send failed)."""
    if not posts:
        return
    partitions = await producer.partitions_for(POSTS_TOPIC)
    records = bundle_records(posts, list(partitions), bundle_posts, bundle_max_bytes)
    await send_records(producer, POSTS_TOPIC, records)


class Publisher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        sources: Sequence[SourceSettings],
        producer: AIOKafkaProducer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sources = {s.name: s for s in sources if s.enabled}
        context = CollectorContext(tz=settings.tz, max_text_chars=settings.stream.max_text_chars)
        self._collectors: dict[str, Collector] = {
            name: build_collector(source, context) for name, source in self.sources.items()
        }
        self.health = {
            name: SourceHealth(kind=str(s.__struct_config__.tag))
            for name, s in self.sources.items()
        }
        self.producer = producer or make_producer(settings.stream.kafka)
        self.published = 0
        self._deduper = Deduper()
        self._states: dict[str, SourceState] = {}
        self._scheduler = None

    async def start(self, *, schedule: bool = True) -> None:
        await self.producer.start()
        for state in await self.store.list_sources():
            self._states[state.name] = state
        if schedule:
            polled = [
                source
                for name, source in self.sources.items()
                if not getattr(self._collectors[name], "push", False)
            ]
            self._scheduler = build_scheduler(polled, self.collect_once, self.settings.tz)
            # The scale-out mode's one scheduler process also owns the takedown job
            # (set takedown.enabled = false here when a CronJob runs `radar takedown`).
            add_takedown_job(self._scheduler, self.store, self.settings)
            # ... and the ring job: the workers' folds each see one partition's accounts.
            # Its account facts go to the workers on the accounts' partitions.
            facts = kafka_sink(self.producer, self.settings.stream.kafka)
            add_rings_job(self._scheduler, self.store, self.settings, facts)
            self._scheduler.start()
        log.info("publishing %d source(s) to %s", len(self.sources), POSTS_TOPIC)

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for collector in self._collectors.values():
            await collector.aclose()
        await self.producer.stop()  # flushes what is pending

    async def collect_once(self, name: str) -> int:
        health = self.health[name]
        if health.cooling():
            return 0
        health.started()
        handed = 0
        try:
            state = self._states.get(name) or SourceState(name=name)
            kafka = self.settings.stream.kafka
            async for page in self._collectors[name].fetch(state.cursor):
                fresh = [p for p in page.posts if self._deduper.is_new(p)]
                await publish_posts(
                    self.producer,
                    fresh,
                    bundle_posts=kafka.bundle_posts,
                    bundle_max_bytes=kafka.bundle_max_bytes,
                )
                if page.rejects:
                    await self.store.record_rejects(list(page.rejects))
                await self._checkpoint(name, len(page.posts), len(page.rejects), page.cursor)
                handed += len(fresh)
            health.succeeded()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one failing source must not stop the others
            base = float(getattr(self.sources[name], "cooldown_seconds", DEFAULT_COOLDOWN_SECONDS))
            _, reject = run_failed(name, health, exc, base)
            if reject is not None:  # a malformed response: kept for `radar sources`
                await self.store.record_rejects([reject])
        finally:
            health.running = False
        self.published += handed
        return handed

    async def _checkpoint(self, name: str, posts: int, rejects: int, cursor: str | None) -> None:
        previous = self._states.get(name) or SourceState(name=name)
        state = SourceState(
            name=name,
            cursor=cursor,
            updated_at=datetime.now(UTC),
            posts_total=previous.posts_total + posts,
            bad_records=previous.bad_records + rejects,
        )
        await self.store.write_batch([], (), [state])
        self._states[name] = state
