"""Posts on ``radar.posts.raw``: one post per message, or a *bundle* of one partition's posts.

Why bundles: a faust worker pays a fixed cost for every Kafka message it takes in, however
little the message holds. Its fetcher wraps each one in ``Service.wait_first`` (four tasks
and an ``asyncio.wait``), then a queue hop into the stream and a processor call. Measured
here (bench/README.md), an agent that only counts messages tops out near 3.6k messages/s
per worker, below the 5k posts/s a worker must do with detection and indexing on top.
Packing a hundred posts into one message pays that cost once for all of them.

What stays true: every post still lands on the partition its account key hashes to (the
same murmur2 partitioner aiokafka and the Java client use for keyed messages), so an
account's posts share a partition and stay in order, and account aggregation stays
partition-local. That is what DESIGN.md keys the topic by account for. A bundle's key is
the account key of its first post, which hashes to the bundle's partition, so key-based
tooling agrees with where the bundle sits. Single-post messages (a JSON object keyed by
its account) remain valid input, so other producers need not bundle.

The value is JSON: a ``Post`` object, an array of ``Post`` objects (a bundle), or an
``{"account_facts": [...]}`` object: the ring job's facts about accounts of that partition
(:class:`~pipeline.models.AccountFact`), which travel here, behind the accounts' posts,
so that the worker folding an account applies them in order.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiokafka.partitioner import murmur2

from pipeline.models import AccountFact, AccountFacts, Post, Reject

REJECT_SAMPLE_CHARS = 500  # enough for a human to recognise a bad record
DEFAULT_BUNDLE_POSTS = 100
DEFAULT_BUNDLE_BYTES = 256 * 1024  # well under the brokers' 1 MiB message.max.bytes

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Post | list[Post])
_FACTS_DECODER = msgspec.json.Decoder(AccountFacts)


def post_key_of(post: Post) -> str:
    """The Kafka key of a post: its account key, so an account's posts share a partition
    and stay in order (a post without author falls back to its own key)."""
    return post.account_key or post.key


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """The partition a keyed message goes to: the rule of aiokafka's (and the Java
    client's) default partitioner, ``murmur2(key)`` over the sorted ``partitions``."""
    return partitions[_key_hash(key) % len(partitions)]


@functools.lru_cache(maxsize=1 << 17)
def _key_hash(key: bytes) -> int:
    """Cached because aiokafka's murmur2 is pure Python (~5 µs a key) and an account's
    key recurs with every post, verdict and bundle it is in."""
    return murmur2(key) & 0x7FFFFFFF


@dataclass
class _Open:
    """A bundle being filled for one partition; its key is its first item's."""

    key: bytes
    values: list[bytes] = field(default_factory=list)
    size: int = 2  # the brackets


def bundle(
    items: Iterable[tuple[bytes, bytes]], partitions: Sequence[int], max_items: int, max_bytes: int
) -> list[tuple[bytes, bytes, int]]:
    """``(key, value, partition)`` records carrying the encoded ``(key, value)`` items, in
    order per partition: each value on the partition its key hashes to, as a JSON array
    of at most ``max_items`` values and ``max_bytes`` bytes (a value larger than that
    travels alone). ``max_items = 1`` gives the plain format: each value as its own
    message under its own key."""
    ordered = sorted(partitions)
    records: list[tuple[bytes, bytes, int]] = []
    filling: dict[int, _Open] = {}

    def close(partition: int) -> None:
        done = filling.pop(partition)
        records.append((done.key, b"[" + b",".join(done.values) + b"]", partition))

    for key, value in items:
        partition = partition_of(key, ordered)
        if max_items == 1:
            records.append((key, value, partition))
            continue
        current = filling.get(partition)
        if current is not None and (
            len(current.values) >= max_items or current.size + len(value) + 1 > max_bytes
        ):
            close(partition)
            current = None
        if current is None:
            current = filling[partition] = _Open(key=key)
        current.values.append(value)
        current.size += len(value) + 1
    for partition in list(filling):
        close(partition)
    return records


def bundle_records(
    posts: Iterable[Post], partitions: Sequence[int], max_posts: int, max_bytes: int
) -> list[tuple[bytes, bytes, int]]:
    """The records that carry ``posts`` on ``radar.posts.raw`` (see :func:`bundle`)."""
    items = ((post_key_of(p).encode(), _ENCODER.encode(p)) for p in posts)
    return bundle(items, partitions, max_posts, max_bytes)


async def send_records(
    producer: Any, topic: str, records: Sequence[tuple[bytes, bytes, int]]
) -> None:
    """Send ``(key, value, partition)`` records with an aiokafka producer and wait until
    the brokers have every one (raises if any send failed): how ``radar collect``'s posts
    and the ring job's facts reach ``radar.posts.raw``."""
    futures = [
        await producer.send(topic, value, key=key, partition=partition)
        for key, value, partition in records
    ]
    await asyncio.gather(*futures)


_FACTS_PREFIX, _FACTS_SUFFIX = b'{"account_facts":', b"}"
FACTS_PER_MESSAGE = 1_000  # ~60 bytes each: well under a bundle's bytes


def fact_records(
    facts: Iterable[AccountFact], partitions: Sequence[int], max_bytes: int
) -> list[tuple[bytes, bytes, int]]:
    """The records that carry the ring job's ``facts`` on ``radar.posts.raw``: each on
    its account's partition, behind the account's posts already there (an
    :class:`~pipeline.models.AccountFacts` object per message)."""
    items = ((f.account_key.encode(), _ENCODER.encode(f)) for f in facts)
    room = max_bytes - len(_FACTS_PREFIX) - len(_FACTS_SUFFIX)
    return [
        (key, _FACTS_PREFIX + value + _FACTS_SUFFIX, partition)
        for key, value, partition in bundle(items, partitions, FACTS_PER_MESSAGE, room)
    ]


@dataclass
class Decoded:
    """The posts of a batch of messages, in order, the ring job's account facts, and the
    messages that held neither."""

    posts: list[Post] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    facts: list[AccountFact] = field(default_factory=list)


def decode_messages(messages: Iterable[tuple[bytes | None, str]], topic: str) -> Decoded:
    """Decode ``(value, where)`` pairs; ``where`` names the message for a reject
    ("partition 3 offset 1200"). A message that is not a post or a bundle of posts
    (broken JSON, invalid UTF-8, a missing field) is a counted :class:`Reject` with a
    sample; it never stops the worker or loses its neighbours. A message of account
    facts (:func:`fact_records`) is tried only once a message is not posts: facts are
    rare, posts are every message."""
    out = Decoded()
    for value, where in messages:
        try:
            if value is None:
                raise msgspec.DecodeError("empty message (no value)")
            decoded = _decode_posts_or_facts(value)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            sample = (value or b"")[:REJECT_SAMPLE_CHARS].decode("utf-8", "replace")
            out.rejects.append(
                Reject(
                    source=f"kafka:{topic}",
                    location=where,
                    reason=f"not a post or a bundle of posts: {exc}",
                    sample=sample,
                    at=datetime.now(UTC),
                )
            )
            continue
        if isinstance(decoded, list):
            out.posts.extend(decoded)
        elif isinstance(decoded, AccountFacts):
            out.facts.extend(decoded.account_facts)
        else:
            out.posts.append(decoded)
    return out


def _decode_posts_or_facts(value: bytes) -> Post | list[Post] | AccountFacts:
    try:
        return _DECODER.decode(value)
    except msgspec.ValidationError as not_posts:
        try:
            return _FACTS_DECODER.decode(value)
        except msgspec.DecodeError:
            raise not_posts from None  # the reject names what a post lacked
