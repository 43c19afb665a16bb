"""A faust Table whose changelog is produced a batch at a time.

faust sends a table's changelog record from ``Table.on_key_set``, one ``send_soon`` per
key write, through the producer buffer that ``producer.flush()`` then drains one
``wait_for`` per message. The worker writes one account per post it folds, so that path
was most of a worker's CPU (bench/README.md, "Scale-out stream"). This table keeps
faust's semantics (the record goes to the partition of the event being processed, the
local store is written by ``__setitem__`` as usual, RocksDB keeps the persisted offset
per partition for fast recovery) but queues the records, and the agent sends them
straight to the driver's producer with :meth:`flush_changelog` once per batch, before the
batch's offsets may be committed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import msgspec


async def produce_all(
    app: faust.App, topic: str, records: list[tuple[bytes, bytes, int | None]]
) -> list[Any]:
    """Send ``(key, value, partition)`` records through the driver's producer (straight
    into aiokafka's batches, no faust buffer) and wait until the broker has them all;
    their ``RecordMetadata`` in order. ``partition`` None: the key's partition."""
    send = app.producer.send
    futures = [await send(topic, key, value, part, None, None) for key, value, part in records]
    return list(await asyncio.gather(*futures))


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

    def on_key_set(self, key: Any, value: Any) -> None:
        partition = self.partition_for_key(key)  # the current event's partition
        assert partition is not None
        self._pending.setdefault(partition, []).append((key, value))
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
        try:
            sent = await produce_all(self.app, self.changelog_topic.get_topic_name(), records)
        except BaseException:
            # resent by the next flush (records are upserts, order kept)
            self._pending[partition] = pending + self._pending.get(partition, [])
            raise
        newest = max(sent, key=lambda meta: meta.offset)  # all in this one partition
        self.data.set_persisted_offset(newest.topic_partition, newest.offset)
