"""The worker's consumer commits a posts message only once the agent processed it.

faust acks messages nobody processed (a stream skips and acks what it takes from its
queue during a rebalance; ``take_events`` acks a take cut short); the scale-out test
lost 1,200 posts that way. These tests drive the consumer's real ack and commit-offset
code (no broker: nothing here fetches or commits)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import faust
import pytest
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from pipeline.config import Settings
from pipeline.faust_app import build_app
from pipeline.faust_consumer import ProcessedOnlyConsumer, RadarFaustApp
from pipeline.kafka_settings import POSTS_TOPIC

OTHER_TOPIC = "radar.something-else"


@pytest.fixture
async def consumer() -> AsyncIterator[ProcessedOnlyConsumer]:
    app = RadarFaustApp("radar-test", broker="kafka://127.0.0.1:9", autodiscover=False)
    consumer = app.consumer
    assert isinstance(consumer, ProcessedOnlyConsumer)
    # What the conductor records when an agent subscribes to a topic with acks on.
    app.topics._acking_topics.update({POSTS_TOPIC, OTHER_TOPIC})
    yield consumer


def message(offset: int, topic: str = POSTS_TOPIC) -> ConsumerMessage:
    msg = ConsumerMessage(topic, 0, offset, 0.0, 0, None, b"key", b"[]", None)
    msg.incref()  # delivered to one stream, as the conductor does
    return msg


def test_the_worker_app_uses_the_guarded_consumer() -> None:
    app = build_app(Settings()).app
    assert isinstance(app.consumer, ProcessedOnlyConsumer)


async def test_a_skipped_message_holds_the_commit_until_a_processed_copy_is_acked(
    consumer: ProcessedOnlyConsumer,
) -> None:
    tp = TP(POSTS_TOPIC, 0)
    first, skipped, third = message(10), message(11), message(12)
    consumer.mark_processed([first, third])
    assert first.ack(consumer)
    assert not skipped.ack(consumer)  # what a stream does to what it skips
    assert third.ack(consumer)
    assert consumer.refused_acks == 1
    assert skipped.acked  # final: acking it again changes nothing
    assert consumer._new_offset(tp) == 11  # commit up to 10, never past 11

    # The partition is read again from the committed offset; the copy is processed.
    copy = message(11)
    consumer.mark_processed([copy])
    assert copy.ack(consumer)
    assert consumer._new_offset(tp) == 13


async def test_a_take_cut_short_is_not_committed(consumer: ProcessedOnlyConsumer) -> None:
    taken = [message(offset) for offset in range(5)]
    for msg in taken:  # take_events' finally: ack everything it handed out
        msg.ack(consumer)
    assert consumer._new_offset(TP(POSTS_TOPIC, 0)) is None
    assert consumer.refused_acks == 5
    assert not consumer._unacked_messages  # nothing left for wait_empty to wait on


async def test_other_topics_are_acked_as_faust_does(consumer: ProcessedOnlyConsumer) -> None:
    msg = message(3, OTHER_TOPIC)
    assert msg.ack(consumer)
    assert consumer._new_offset(TP(OTHER_TOPIC, 0)) == 4
    assert consumer.refused_acks == 0


async def test_faust_own_consumer_would_commit_past_the_skipped_message() -> None:
    """The reason for the class: faust's consumer commits what was only skipped."""
    app = faust.App("radar-test", broker="kafka://127.0.0.1:9", autodiscover=False)
    plain = app.consumer
    assert type(plain) is FaustConsumer
    app.topics._acking_topics.add(POSTS_TOPIC)
    for offset in (10, 11, 12):
        message(offset).ack(plain)
    assert plain._new_offset(TP(POSTS_TOPIC, 0)) == 13


async def test_posts_offsets_are_never_filtered_as_already_read(
    consumer: ProcessedOnlyConsumer,
) -> None:
    """After a seek back, faust's fetch loop drops what is below its read offset and
    counts a jump as a gap that commits; on the posts topic it sees no read offset."""
    posts, other = TP(POSTS_TOPIC, 0), TP(OTHER_TOPIC, 0)
    consumer._read_offset[posts] = 22
    consumer._read_offset[other] = 22
    assert consumer._read_offset[posts] is None
    assert consumer._read_offset[other] == 22
