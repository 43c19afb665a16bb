"""Group commit: batches waiting for the writer go in together, and nobody's result is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from pathlib import Path

import msgspec
import pytest
from store_factories import account, scored

from pipeline.models import AccountRisk, ScoredPost, SearchQuery, SourceState
from pipeline.store.group_commit import GroupCommit
from pipeline.store.sqlite import SqliteStore
from pipeline.store.sqlite_batch import BatchRows, batch_rows
from pipeline.store.sqlite_rows import POST_COLUMNS


class RecordingWriter:
    """A fake writer: records each transaction when it is handed over and runs them one
    at a time, in order, as both real writers do; the first one waits until released,
    so the calls made meanwhile queue up behind it as they do behind a busy SQLite
    writer."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.transactions: list[tuple[list[str], list[str], list[str]]] = []
        self.finished = 0
        self.release = asyncio.Event()
        self.fail_on = fail_on
        self._last: asyncio.Future[None] | None = None

    async def __call__(self, rows: BatchRows) -> Awaitable[None]:
        number, previous = len(self.transactions), self._last
        self.transactions.append(
            (
                [row[POST_ID] for row in rows.posts],
                [f"{row[2]}@{row[3]}" for row in rows.accounts],  # account_id@score
                [
                    msgspec.json.decode(row[1], type=SourceState).cursor or ""
                    for row in rows.checkpoints
                ],
            )
        )

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            if number == 0:
                await self.release.wait()
            self.finished += 1
            if number == self.fail_on:
                raise OSError("disk full")

        self._last = asyncio.ensure_future(run())
        return self._last


POST_ID = POST_COLUMNS.index("post_id")


async def write(
    group: GroupCommit,
    posts: list[ScoredPost],
    accounts: Sequence[AccountRisk] = (),
    checkpoints: Sequence[SourceState] = (),
) -> None:
    await group.write(batch_rows(posts, accounts, checkpoints))


def batch(*ids: str) -> list[ScoredPost]:
    return [scored(i, f"全额退保 第{i}条") for i in ids]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_batches_waiting_for_the_writer_go_in_one_transaction() -> None:
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=10)
    first = asyncio.create_task(write(group, batch("a1")))
    await settle()  # the first batch is in the writer; the next three wait for it
    waiting = [
        asyncio.create_task(
            write(group, batch(f"{n}1", f"{n}2"), [], [SourceState(name="s", cursor=n)])
        )
        for n in "bcd"
    ]
    await settle()
    assert not any(task.done() for task in [first, *waiting])  # nobody returns early
    writer.release.set()
    await asyncio.gather(first, *waiting)
    assert writer.transactions == [
        (["a1"], [], []),
        (["b1", "b2", "c1", "c2", "d1", "d2"], [], ["b", "c", "d"]),  # in call order
    ]
    assert group.transactions == 2


async def test_a_group_stays_within_max_posts_but_a_large_batch_goes_whole() -> None:
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=4)
    tasks = [asyncio.create_task(write(group, batch("a")))]
    await settle()
    sizes = [3, 1, 2, 6, 1]
    tasks += [
        asyncio.create_task(write(group, batch(*(f"{n}-{i}" for i in range(size)))))
        for n, size in enumerate(sizes)
    ]
    await settle()
    writer.release.set()
    await asyncio.gather(*tasks)
    assert [len(posts) for posts, _, _ in writer.transactions] == [1, 4, 2, 6, 1]


async def test_a_failed_transaction_fails_every_batch_in_it_and_the_next_ones_go_on() -> None:
    writer = RecordingWriter(fail_on=1)
    group = GroupCommit(writer, max_posts=10)
    first = asyncio.create_task(write(group, batch("a")))
    await settle()
    doomed = [asyncio.create_task(write(group, batch(n))) for n in "bc"]
    await settle()
    writer.release.set()
    await first
    for task in doomed:
        with pytest.raises(OSError, match="disk full"):
            await task
    await write(group, batch("d"))  # the writer is not stuck after a failure
    assert [posts for posts, _, _ in writer.transactions] == [["a"], ["b", "c"], ["d"]]


async def test_the_latest_risk_of_an_account_wins_within_a_group() -> None:
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=10)
    first = asyncio.create_task(write(group, []))
    await settle()
    older = account("weibo", "u1", score=0.2, flagged=False)
    newer = account("weibo", "u1", score=0.9, flagged=True)
    other = account("weibo", "u2", score=0.5, flagged=False)
    tasks = [
        asyncio.create_task(write(group, batch("p1"), [older, other], [])),
        asyncio.create_task(write(group, batch("p2"), [newer], [])),
    ]
    await settle()
    writer.release.set()
    await asyncio.gather(first, *tasks)
    assert sorted(writer.transactions[1][1]) == ["u1@0.9", "u2@0.5"]


async def test_a_cancelled_caller_does_not_cancel_its_neighbours() -> None:
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=10)
    first = asyncio.create_task(write(group, batch("a")))
    await settle()
    quitter = asyncio.create_task(write(group, batch("b")))
    stayer = asyncio.create_task(write(group, batch("c")))
    await settle()
    quitter.cancel()
    writer.release.set()
    await asyncio.gather(first, stayer)
    assert quitter.cancelled()
    assert writer.transactions[1][0] == ["b", "c"]  # its posts still went in


async def test_close_waits_for_the_queued_writes() -> None:
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=10)
    tasks = [asyncio.create_task(write(group, batch(n))) for n in "ab"]
    await settle()
    closing = asyncio.create_task(group.close())
    await settle()
    assert not closing.done()
    writer.release.set()
    await closing
    assert all(task.done() and task.exception() is None for task in tasks)
    assert [posts for posts, _, _ in writer.transactions] == [["a", "b"]]


async def test_the_next_transaction_is_queued_while_the_writer_runs_one() -> None:
    """Depth 2: a batch that arrives while the writer is busy is handed over at once
    (the writer goes straight on to it); a third waits for room, then goes with the
    batches that arrived meanwhile."""
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=10, depth=2)
    tasks = [asyncio.create_task(write(group, batch("a")))]
    await settle()
    tasks.append(asyncio.create_task(write(group, batch("b"))))
    await settle()
    assert writer.transactions == [(["a"], [], []), (["b"], [], [])]
    assert writer.finished == 0  # handed over before the first one finished
    tasks += [asyncio.create_task(write(group, batch(n))) for n in "cd"]
    await settle()
    assert len(writer.transactions) == 2  # no room: the writer holds two
    writer.release.set()
    await asyncio.gather(*tasks)
    assert [posts for posts, _, _ in writer.transactions] == [["a"], ["b"], ["c", "d"]]
    assert group.transactions == 3


async def test_depth_one_hands_over_a_transaction_only_when_the_last_one_is_done() -> None:
    writer = RecordingWriter()
    group = GroupCommit(writer, max_posts=10, depth=1)
    tasks = [asyncio.create_task(write(group, batch("a")))]
    await settle()
    tasks += [asyncio.create_task(write(group, batch(n))) for n in "bc"]
    await settle()
    assert len(writer.transactions) == 1
    writer.release.set()
    await asyncio.gather(*tasks)
    assert [posts for posts, _, _ in writer.transactions] == [["a"], ["b", "c"]]


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        GroupCommit(RecordingWriter(), depth=0)


async def test_concurrent_batches_on_sqlite_end_as_if_written_one_by_one(tmp_path: Path) -> None:
    """Twelve partitions' worth of batches at once, the same keys rewritten by later
    batches: the store ends with every post once, each with its last text."""
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    try:
        versions = "甲乙丙丁戊己庚辛壬癸子丑"
        batches = [
            [scored(f"p{i}", f"全额退保 版本{v} 第{i}条") for i in range(b * 50, b * 50 + 100)]
            for b, v in enumerate(versions)
        ]
        await asyncio.gather(*(store.write_batch(posts) for posts in batches))
        assert store._group is not None and store._group.transactions < len(batches)
        assert await store.count_posts() == 11 * 50 + 100
        latest = await store.get_post("weibo:p120")  # in batches 1 and 2
        assert latest is not None and "版本丙" in latest.post.text
        found = await store.search(SearchQuery(q="版本乙", flagged_only=False, page_size=100))
        assert found.total == 50  # p50-p99: rewritten by batch 1, not by batch 2
    finally:
        await store.close()
