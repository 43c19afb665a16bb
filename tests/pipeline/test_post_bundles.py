"""Bundles on radar.posts.raw: where posts go, how big bundles get, what bad messages do."""

from __future__ import annotations

import msgspec
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.models import AccountFact, Post
from pipeline.post_bundles import (
    bundle_records,
    decode_messages,
    fact_records,
    partition_of,
    post_key_of,
)

PARTITIONS = [0, 1, 2, 3, 4, 5]
DECODER = msgspec.json.Decoder(Post | list[Post])


def _post(i: int, author: str | None, text: str = "hello") -> Post:
    return Post(platform="weibo", post_id=f"p{i}", text=text, author_id=author)


def _unpack(records: list[tuple[bytes, bytes, int]]) -> list[tuple[int, bytes, list[Post]]]:
    out = []
    for key, value, partition in records:
        decoded = DECODER.decode(value)
        out.append((partition, key, decoded if isinstance(decoded, list) else [decoded]))
    return out


@given(
    authors=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", None]), max_size=300),
    max_posts=st.integers(1, 40),
)
def test_every_post_travels_once_on_its_accounts_partition_in_order(
    authors: list[str | None], max_posts: int
) -> None:
    posts = [_post(i, a) for i, a in enumerate(authors)]
    messages = _unpack(bundle_records(posts, PARTITIONS, max_posts, 64 * 1024))
    carried = [p for _, _, bundle in messages for p in bundle]
    assert sorted(p.post_id for p in carried) == sorted(p.post_id for p in posts)
    seen: dict[str, list[int]] = {}
    for partition, key, bundle in messages:
        assert 1 <= len(bundle) <= max_posts
        assert partition_of(key, PARTITIONS) == partition
        for post in bundle:
            assert partition_of(post_key_of(post).encode(), PARTITIONS) == partition
            seen.setdefault(post_key_of(post), []).append(int(post.post_id[1:]))
    assert all(order == sorted(order) for order in seen.values())


def test_the_partitioner_is_aiokafkas_own_for_keyed_messages() -> None:
    for key in (b"weibo:a", b"douyin:123", b"x" * 300):
        expected = DefaultPartitioner()(key, PARTITIONS, PARTITIONS)
        assert partition_of(key, PARTITIONS) == expected


def test_one_post_per_message_is_the_plain_format() -> None:
    posts = [_post(1, "a"), _post(2, None)]
    records = bundle_records(posts, PARTITIONS, 1, 64 * 1024)
    assert [key for key, _, _ in records] == [b"weibo:a", b"weibo:p2"]
    assert [msgspec.json.decode(value, type=Post) for _, value, _ in records] == posts


def test_bundles_stay_under_the_byte_cap_and_an_oversized_post_travels_alone() -> None:
    posts = [_post(i, "a", "退保" * 200) for i in range(30)]  # ~1.3 KB each, one account
    big = _post(99, "a", "大" * 5000)
    records = bundle_records([*posts, big], PARTITIONS, 100, 4096)
    sizes = [len(value) for _, value, _ in records]
    assert all(size <= 4096 for size in sizes[:-1])
    assert len(records) > 10
    last = _unpack(records[-1:])[0][2]
    assert [p.post_id for p in last] == ["p99"]


def test_bad_messages_become_rejects_and_their_neighbours_are_kept() -> None:
    good = msgspec.json.encode(_post(1, "a"))
    bundle = msgspec.json.encode([_post(2, "a"), _post(3, "b")])
    messages = [
        (good, "partition 0 offset 0"),
        (b'{"platform": "weibo", "post_id": "p4", "text": "unterminated', "partition 0 offset 1"),
        (b"\xff\xfe not utf-8", "partition 0 offset 2"),
        (None, "partition 0 offset 3"),
        (b'{"platform": "weibo"}', "partition 0 offset 4"),  # no post_id, no text
        (b'[{"platform": "weibo", "post_id": "p5", "text": "x"}, 7]', "partition 0 offset 5"),
        (bundle, "partition 0 offset 6"),
    ]
    decoded = decode_messages(messages, "radar.posts.raw")
    assert [p.post_id for p in decoded.posts] == ["p1", "p2", "p3"]
    assert [r.location for r in decoded.rejects] == [f"partition 0 offset {i}" for i in range(1, 6)]
    assert all(r.source == "kafka:radar.posts.raw" and r.reason for r in decoded.rejects)
    assert "unterminated" in decoded.rejects[0].sample


def test_account_facts_travel_on_their_accounts_partitions_and_decode_apart_from_posts() -> None:
    facts = [AccountFact(f"weibo:{a}", a != "c") for a in "abcdefg"]
    posts = [_post(i, a) for i, a in enumerate("abcdefg")]
    where = {key: partition for key, _, partition in bundle_records(posts, PARTITIONS, 1, 1024)}
    records = fact_records(facts, PARTITIONS, max_bytes=100)  # small: one fact each
    assert len(records) > len({partition for _, _, partition in records})
    messages = []
    for n, (key, value, partition) in enumerate(records):
        assert where[key] == partition
        assert len(value) <= 100
        messages.append((value, f"partition {partition} offset {n}"))
    # a bundle of posts and a broken facts object around them: only the facts are facts
    messages.append((msgspec.json.encode(posts[:2]), "partition 0 offset 90"))
    messages.append((b'{"account_facts": [{"account_key": 1}]}', "partition 0 offset 91"))
    decoded = decode_messages(messages, "radar.posts.raw")
    assert sorted(decoded.facts, key=lambda f: f.account_key) == facts
    assert [p.post_id for p in decoded.posts] == ["p0", "p1"]
    assert [r.location for r in decoded.rejects] == ["partition 0 offset 91"]
    assert "not a post" in decoded.rejects[0].reason
