"""The account table's recovery fence: a rebalance's changelog replay never puts an
account back behind the value this worker holds (see ``RecoveryFence``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.config import load_settings
from pipeline.faust_app import build_app
from pipeline.faust_table import RecoveryFence, Sent
from pipeline.models import AccountRisk


def _record(key: str, offset: int, value: AccountRisk, partition: int = 0) -> SimpleNamespace:
    message = SimpleNamespace(partition=partition, offset=offset, value=b"x")
    return SimpleNamespace(key=key, value=value, message=message)


def _risk(posts: int) -> AccountRisk:
    return AccountRisk(platform="weibo", account_id="a", total_posts=posts)


def test_queued_or_in_flight_keys_are_held_and_older_records_are_stale() -> None:
    fence = RecoveryFence(replays_all=True)
    fence.written(0, "weibo:a")
    assert fence.stale(0, "weibo:a", 10**9)  # not on the broker yet: memory is newest
    assert not fence.stale(0, "weibo:b", 5)
    fence.produced(0, ["weibo:b", "weibo:a", "weibo:b"], [Sent(0, 7, 8), Sent(0, 9, 9)])
    assert fence.stale(0, "weibo:a", 7) and not fence.stale(0, "weibo:a", 8)
    assert fence.stale(0, "weibo:b", 8) and not fence.stale(0, "weibo:b", 9)
    fence.written(1, "weibo:c")
    fence.lost(1)  # another worker owns partition 1 now: its records are newer
    assert not fence.stale(1, "weibo:c", 0)


def test_a_table_recovering_from_its_persisted_offset_keeps_no_offsets() -> None:
    fence = RecoveryFence(replays_all=False)
    fence.written(0, "weibo:a")
    assert fence.stale(0, "weibo:a", 3)
    fence.produced(0, ["weibo:a"], [Sent(0, 3, 3)])
    assert not fence.stale(0, "weibo:a", 1)  # replayed from after its own offset anyway


@pytest.fixture
def table():
    settings = load_settings(environ={}, overrides={"stream": {"kind": "kafka"}})
    return build_app(settings).accounts


def test_the_worker_table_skips_stale_records_in_a_replay(table) -> None:
    """The in-memory table as a rebalance replays the changelog into it, up to a
    high-water mark read before this worker's last record (offset 5) landed: the account
    it folded last stays, an account still in flight stays, others apply."""
    table.data["weibo:a"] = _risk(10)
    table.fence.produced(0, ["weibo:a"], [Sent(0, 5, 5)])
    table.data["weibo:b"] = _risk(3)
    table.fence.written(0, "weibo:b")
    table.apply_changelog_batch(
        [
            _record("weibo:a", 2, _risk(8)),
            _record("weibo:b", 4, _risk(2)),
            _record("weibo:c", 6, _risk(1)),
        ]
    )
    assert {k: v.total_posts for k, v in table.data.items()} == {
        "weibo:a": 10,
        "weibo:b": 3,
        "weibo:c": 1,
    }
