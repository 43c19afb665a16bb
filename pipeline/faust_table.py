"""A faust Table whose changelog is produced a batch at a time.

faust sends a table's changelog record from ``Table.on_key_set``, one ``send_soon`` per
key write, through the producer buffer that ``producer.flush()`` then drains one
``wait_for`` per message. The worker writes one account per post it folds, so that path
was most of a worker's CPU (bench/README.md, "Scale-out stream"). This table keeps
faust's semantics (the record goes to the partition of the event being processed, the
local store is written by ``__setitem__`` as usual, RocksDB keeps the persisted offset
per partition for fast recovery) but queues the records, and the agent sends them
straight to the driver's producer with :meth:`flush_changelog` once per batch, as whole
record batches (:func:`produce_all`), before the batch's offsets may be committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import faust
import msgspec
from faust.types import TP


@dataclass(frozen=True)
class Sent:
    """Where a produced batch of records landed: the offsets ``first``..``last``."""

    partition: int
    first: int
    last: int


async def produce_all(
    app: faust.App, topic: str, records: Sequence[tuple[bytes, bytes, int]]
) -> list[Sent]:
    """Send ``(key, value, partition)`` records through the driver's producer and wait
    until the broker has them all; where each batch landed, in order.

    Why record batches built here: aiokafka's ``send`` costs a coroutine, a future and a
    partition lookup per record (~17 µs of CPU each, more with small batches: bench/
    README.md), and the worker sends one changelog record per account it folds. Appending
    the records to a ``BatchBuilder`` and submitting whole batches with ``send_batch``
    cost ~3.5 µs each. Records keep their order within a partition: a partition's batches
    are submitted in order, and the producer sends a partition's batches in order."""
    producer = app.producer._ensure_producer()  # the aiokafka producer under faust's
    by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value, partition in records:
        by_partition.setdefault(partition, []).append((key, value))
    pending: list[tuple[int, int, asyncio.Future[Any]]] = []
    for partition, items in by_partition.items():
        batch, count = producer.create_batch(), 0
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                pending.append((partition, count, await _submit(producer, batch, topic, partition)))
                batch, count = producer.create_batch(), 0
                batch.append(key=key, value=value, timestamp=None)  # an empty batch takes one
            count += 1
        pending.append((partition, count, await _submit(producer, batch, topic, partition)))
    sent = []
    for partition, count, future in pending:
        meta = await future
        sent.append(Sent(partition, meta.offset, meta.offset + count - 1))
    return sent


async def _submit(producer: Any, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
    batch.close()  # nothing else may join it: its count is what we appended
    return await producer.send_batch(batch, topic, partition=partition)


class RecoveryFence:
    """Which changelog records a table recovery must not apply on this worker: those
    older than the value the worker holds for the key itself.

    Why: a rebalance that leaves a partition on this worker still recovers it, and an
    in-memory table (no persisted offset) replays the whole changelog up to the
    high-water mark read when the recovery began. Batches keep running meanwhile (the
    app sets ``stream_wait_empty`` off), and an account folded by an in-flight batch has
    a newer value in memory than any record under that mark. Applying the older record
    put the account back a few posts; the batch was then acked, so those posts were
    never folded again (seen as a rare scale-out test failure: an account short of 2 of
    its 10 posts). Keys whose records are still queued or in flight are held as they
    are; for the others, a record older than the last one this worker produced for the
    key is stale. A partition the worker loses forgets its unsent keys: when it comes
    back, the records its other owners wrote meanwhile are the newer ones.

    ``replays_all``: only a table kept in memory replays records this worker produced
    itself; a RocksDB table recovers from its persisted offset (the last record the
    worker produced), so there the fence keeps no offset per key (that would be memory
    growing with every account the worker ever folded)."""

    def __init__(self, *, replays_all: bool) -> None:
        self._unsettled: dict[int, set[str]] = {}
        self._produced: dict[str, int] | None = {} if replays_all else None

    def written(self, partition: int, key: str) -> None:
        """The table holds a new value for ``key``, not yet on the broker."""
        self._unsettled.setdefault(partition, set()).add(key)

    def produced(self, partition: int, keys: Sequence[str], sent: Sequence[Sent]) -> None:
        """``keys`` (in the order they were sent) are on the broker, at ``sent``."""
        unsettled = self._unsettled.get(partition, set())
        unsettled.difference_update(keys)
        if self._produced is not None:
            offsets = (o for batch in sent for o in range(batch.first, batch.last + 1))
            self._produced.update(zip(keys, offsets, strict=True))

    def lost(self, partition: int) -> None:
        self._unsettled.pop(partition, None)

    def stale(self, partition: int, key: str, offset: int) -> bool:
        if key in self._unsettled.get(partition, ()):
            return True
        return self._produced is not None and offset < self._produced.get(key, -1)


async def topic_partitions(app: faust.App, topic: str) -> list[int]:
    """The topic's partitions as the driver's producer sees them (from broker metadata),
    so records placed by hand land where a keyed send would put them."""
    producer = app.producer._ensure_producer()  # the aiokafka producer under faust's
    return sorted(await producer.partitions_for(topic))


class BatchChangelogTable(faust.Table):
    """``faust.Table`` with a per-batch changelog; keys are ``str``, values one msgspec
    Struct type encoded as JSON (the worker's account state)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoder = msgspec.json.Encoder()
        # Per partition: with isolated partitions each actor flushes only its own
        # records, so its batch is acked only after *its* changelog is on the broker.
        self._pending: dict[int, list[tuple[str, msgspec.Struct]]] = {}
        self.fence = RecoveryFence(replays_all=str(self.app.conf.store).startswith("memory:"))

    def on_key_set(self, key: Any, value: Any) -> None:
        partition = self.partition_for_key(key)  # the current event's partition
        assert partition is not None
        self._pending.setdefault(partition, []).append((key, value))
        self.fence.written(partition, key)
        self._maybe_set_key_ttl(key, partition)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        raise NotImplementedError("accounts are never deleted from the table")

    def pending_changelog(self, partition: int) -> int:
        return len(self._pending.get(partition, ()))

    async def flush_changelog(self, partition: int) -> None:
        """Produce the partition's queued changelog records and wait until the broker
        has them all; then record the partition's last changelog offset in the local
        store (what ``Table._on_changelog_sent`` does per record)."""
        pending = self._pending.pop(partition, [])
        if not pending:
            return
        encode = self._encoder.encode
        records = [(key.encode(), encode(value), partition) for key, value in pending]
        topic = self.changelog_topic.get_topic_name()
        try:
            sent = await produce_all(self.app, topic, records)
        except BaseException:
            # resent by the next flush (records are upserts, order kept)
            self._pending[partition] = pending + self._pending.get(partition, [])
            raise
        self.fence.produced(partition, [key for key, _ in pending], sent)
        newest = max(batch.last for batch in sent)  # all in this one partition
        self.data.set_persisted_offset(TP(topic, partition), newest)

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        """Recovery: apply the changelog records, but none older than what this worker
        holds for the key (:class:`RecoveryFence`)."""
        fence = self.fence
        super().apply_changelog_batch(
            [
                e
                for e in batch
                if not fence.stale(e.message.partition, _text(e.key), e.message.offset)
            ]
        )

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        for tp in revoked:  # the next owner's records are the newer ones now
            self.fence.lost(tp.partition)
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)
