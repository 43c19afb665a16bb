"""Group commit: the batches that wait for the store's one writer go in as one transaction.

Why: a ``radar worker`` scores its partitions concurrently, one batch of 500 posts each,
and all of them queue for the SQLite writer. Writing the waiting batches together costs
less per post than one after another: fewer statements, one commit, and one larger FTS5
segment instead of several small ones for the index to merge later. The same measure
as a larger ``stream.kafka.batch_size`` (2,000: +30% on SQLite, ``bench/README.md``)
without its cost on Elasticsearch, whose store is not grouped.

Each caller still returns only once its own posts are committed, and gets the error if
the transaction that held them failed (all its batches then fail together, and each
caller retries its own, as it would have alone). Within a group the later batch wins
for a key both carry, as it would have by committing later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pipeline.models import AccountRisk, ScoredPost, SourceState

WriteBatch = Callable[[list[ScoredPost], list[AccountRisk], list[SourceState]], Awaitable[None]]


@dataclass
class _Waiting:
    posts: list[ScoredPost]
    accounts: list[AccountRisk]
    checkpoints: list[SourceState]
    done: asyncio.Future[None] = field(repr=False)


class GroupCommit:
    """Coalesces concurrent :meth:`write` calls into transactions of up to
    ``max_posts`` posts (a larger single batch still goes alone, whole)."""

    def __init__(self, write: WriteBatch, *, max_posts: int = 2_000) -> None:
        self._write = write
        self._max_posts = max_posts
        self._waiting: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None
        self.transactions = 0  # how many the writer ran: what grouping saved, in tests

    async def write(
        self,
        posts: list[ScoredPost],
        accounts: list[AccountRisk],
        checkpoints: list[SourceState],
    ) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(posts, accounts, checkpoints, done))
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
        while self._waiting:
            group = self._next_group()
            try:
                await self._write(
                    [p for w in group for p in w.posts],
                    _last_of_each_account([a for w in group for a in w.accounts]),
                    [c for w in group for c in w.checkpoints],
                )
            except asyncio.CancelledError:  # the store is closing under its callers
                for waiting in (*group, *self._waiting):
                    waiting.done.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:  # the callers get it; this task goes on
                for waiting in group:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
            else:
                for waiting in group:
                    if not waiting.done.done():
                        waiting.done.set_result(None)
            finally:
                self.transactions += 1

    def _next_group(self) -> list[_Waiting]:
        """The oldest waiting batch and as many after it as fit in ``max_posts``."""
        group = [self._waiting.pop(0)]
        size = len(group[0].posts)
        while self._waiting and size + len(self._waiting[0].posts) <= self._max_posts:
            size += len(self._waiting[0].posts)
            group.append(self._waiting.pop(0))
        return group


def _last_of_each_account(accounts: list[AccountRisk]) -> list[AccountRisk]:
    """One risk per account, the latest: its contacts replace the account's contacts,
    so two versions in one transaction would leave the union of both."""
    return list({account.key: account for account in accounts}.values())
