"""A faust consumer that commits only the posts messages the radar agent processed.

Why: faust acks a message it *skips*, "so that the lag does not grow". A stream skips
every message it takes from its queue while a rebalance is under way (flow control
off) or that was fetched in an earlier generation. When the partition stays on the
worker, the commit that follows moves past those messages, and the recovery's "seek
to committed offsets" then starts *after* them: they are never read again. Seen in the
scale-out test as 10–12 bundles in the middle of one partition committed but never
indexed (1,000–1,200 posts), when a rebalance came while the worker's actor for that
partition was behind (a slow store, a loaded machine).

So on the posts topic an ack counts only for a message the agent marked processed
(:meth:`ProcessedOnlyConsumer.mark_processed`, after the store write and the
changelog); any other ack is refused: the message stays uncommitted, and whoever owns
the partition next (this worker after its seek, or another) reads it again from the
committed offset. Writes are idempotent, so reading again costs time, never
correctness. The same rule covers a take cut short by a revoked partition or a crash:
what was not processed is not acked, whatever acks it.

The consumer's read-offset filter is off on the posts topic too. faust drops a fetched
message whose offset is below the last one it delivered, and counts a jump forward as
a "gap" whose offsets commit as if acked. After a rebalance's seek back to the
committed offset, records still in flight from before the seek are delivered first:
the re-read copies then fell below the read offset and were dropped, and the jump
became a gap (seen here under load: partition 3 committed at 12 for good, offsets
12–22 never indexed). The posts topic is neither compacted nor transactional, so its
offsets have no holes; a message delivered twice is written twice, idempotently.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message, TransportT

from pipeline.kafka_settings import POSTS_TOPIC

log = logging.getLogger("radar.worker")

__all__ = ["ProcessedOnlyConsumer", "RadarFaustApp", "RadarTransport"]


class ProcessedOnlyConsumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer; on ``guarded_topics`` only processed messages are acked."""

    guarded_topics: frozenset[str] = frozenset({POSTS_TOPIC})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Weak: a message dropped by a revoked partition's actor must not stay here.
        self._processed: weakref.WeakSet[Message] = weakref.WeakSet()
        self.refused_acks = 0
        self._read_offset = _UnfilteredReadOffsets(self.guarded_topics)

    def mark_processed(self, messages: Iterable[Message]) -> None:
        """These messages' posts are durable: their acks may now commit them."""
        self._processed.update(messages)

    def ack(self, message: Message) -> bool:
        if message.topic in self.guarded_topics and message not in self._processed:
            # Final either way: the message will not be acked again; its offset stays
            # uncommitted until a processed copy of it is acked.
            message.acked = True
            self._unacked_messages.discard(message)
            self.refused_acks += 1
            log.info(
                "not committing %s partition %d offset %d: fetched but not processed "
                "(it is read again from the committed offset)",
                message.topic,
                message.partition,
                message.offset,
            )
            return False
        self._processed.discard(message)
        return super().ack(message)


class _UnfilteredReadOffsets(defaultdict[TP, int | None]):
    """faust's read offsets, which read as unknown on ``topics``: the fetch loop then
    neither drops a message below the last one delivered nor records a gap."""

    def __init__(self, topics: frozenset[str]) -> None:
        super().__init__(lambda: None)
        self._topics = topics

    def __getitem__(self, tp: TP) -> int | None:
        if tp.topic in self._topics:
            return None
        return super().__getitem__(tp)


class RadarTransport(aiokafka_driver.Transport):
    Consumer = ProcessedOnlyConsumer


class RadarFaustApp(faust.App):
    """``faust.App`` whose consumer is :class:`ProcessedOnlyConsumer` (the broker URLs
    are always ``kafka://``: :func:`pipeline.faust_app.build_app` writes them)."""

    def _new_transport(self) -> TransportT:
        return RadarTransport(self.conf.broker_consumer, self)
