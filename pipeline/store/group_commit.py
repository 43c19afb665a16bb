"""Group commit: the batches that wait for the store's one writer go in as one transaction,
and the next transaction is queued while the writer runs the last.

Why grouping: a ``radar worker`` scores its partitions concurrently, one batch of 500
posts each, and all of them queue for the SQLite writer. Writing the waiting batches
together costs less per post than one after another: fewer statements, one commit, and
one larger FTS5 segment instead of several small ones for the index to merge later. The
same measure as a larger ``stream.kafka.batch_size`` (2,000: +30% on SQLite,
``bench/README.md``) without its cost on Elasticsearch, whose store is not grouped.

Why a queue of ``depth`` transactions: the writer (a thread whose SQLite work runs
without the GIL, or a process of its own) would otherwise sit idle from the end of one
transaction until the event loop, busy with detection, got round to handing it the next,
and the batches queued meanwhile would wait for that hand-over too. With one transaction
queued behind the running one the writer goes straight on; both writers run their calls
in order, one at a time.

Each caller still returns only once its own posts are committed, and gets the error if
the transaction that held them failed (all its batches then fail together, and each
caller retries its own, as it would have alone). Within a group the later batch wins
for a key both carry, as it would have by committing later
(:func:`pipeline.store.sqlite_batch.merge`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pipeline.store.sqlite_batch import BatchRows, merge

# Queue one transaction's rows on the writer; the awaitable it returns completes when
# that transaction has committed (or raises its error).
Submit = Callable[[BatchRows], Awaitable[Awaitable[None]]]


@dataclass
class _Waiting:
    rows: BatchRows
    done: asyncio.Future[None] = field(repr=False)


@dataclass
class _InFlight:
    group: list[_Waiting]
    outcome: asyncio.Future[None]


class GroupCommit:
    """Coalesces concurrent :meth:`write` calls into transactions of up to
    ``max_posts`` posts (a larger single batch still goes alone, whole), with up to
    ``depth`` transactions handed to the writer at a time."""

    def __init__(self, submit: Submit, *, max_posts: int = 2_000, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._submit = submit
        self._max_posts = max_posts
        self._depth = depth
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self.transactions = 0  # how many the writer ran: what grouping saved, in tests

    async def write(self, rows: BatchRows) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(rows, done))
        self._arrived.set()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="sqlite-group-commit")
        # shield: a caller cancelled mid-write must not cancel its group's neighbours
        await asyncio.shield(done)

    async def close(self) -> None:
        """Wait for the writes already queued (their callers are waiting for them)."""
        if self._drainer is not None:
            with contextlib.suppress(Exception):
                await self._drainer
            self._drainer = None

    async def _drain(self) -> None:
        in_flight: deque[_InFlight] = deque()
        try:
            while self._waiting or in_flight:
                if self._waiting and len(in_flight) < self._depth:
                    started = await self._start(self._next_group())
                    if started is not None:
                        in_flight.append(started)
                    continue
                oldest = in_flight[0].outcome
                self._arrived.clear()
                if len(in_flight) < self._depth:  # room for a batch that arrives meanwhile
                    arrival = asyncio.ensure_future(self._arrived.wait())
                    await asyncio.wait({oldest, arrival}, return_when=asyncio.FIRST_COMPLETED)
                    arrival.cancel()
                else:
                    await asyncio.wait({oldest})
                if oldest.done():
                    _settle(in_flight.popleft().group, oldest)
                    self.transactions += 1
        except asyncio.CancelledError:  # the store is closing under its callers
            for flight in in_flight:
                flight.outcome.cancel()  # the writer still finishes what it was handed
            for waiting in (*(w for f in in_flight for w in f.group), *self._waiting):
                waiting.done.cancel()
            self._waiting.clear()
            raise

    async def _start(self, group: list[_Waiting]) -> _InFlight | None:
        """Hand one group to the writer; a group that could not even be queued fails
        its callers here."""
        try:
            outcome = await self._submit(merge([waiting.rows for waiting in group]))
        except asyncio.CancelledError:
            for waiting in group:
                waiting.done.cancel()
            raise
        except Exception as exc:
            _fail(group, exc)
            self.transactions += 1
            return None
        return _InFlight(group, asyncio.ensure_future(outcome))

    def _next_group(self) -> list[_Waiting]:
        """The oldest waiting batch and as many after it as fit in ``max_posts``."""
        group = [self._waiting.pop(0)]
        size = len(group[0].rows.posts)
        while self._waiting and size + len(self._waiting[0].rows.posts) <= self._max_posts:
            size += len(self._waiting[0].rows.posts)
            group.append(self._waiting.pop(0))
        return group


def _settle(group: list[_Waiting], outcome: asyncio.Future[None]) -> None:
    if outcome.cancelled():
        for waiting in group:
            waiting.done.cancel()
    elif (exc := outcome.exception()) is not None:
        _fail(group, exc)
    else:
        for waiting in group:
            if not waiting.done.done():
                waiting.done.set_result(None)


def _fail(group: list[_Waiting], exc: BaseException) -> None:
    for waiting in group:
        if not waiting.done.done():
            waiting.done.set_exception(exc)
