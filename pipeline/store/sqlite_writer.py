"""Where the SQLite store's one writer connection lives: a thread, or a process of its own.

SQLite has one writer at a time, so a store sends every write through ONE connection,
one call after another, each call one ``BEGIN IMMEDIATE`` … ``COMMIT``. Every write is a
module-level function ``fn(con, *args)``, so either writer can run it: the thread calls
it, the process receives it by reference (pickle).

Why a process (``store.sqlite_writer = "process"``): sqlite3 releases the GIL inside
SQLite, but building a batch's rows (parameters, FTS tokens, JSON) is Python, about half
of the writer's time, and on a thread that Python shares the GIL with detection, faust
and Kafka, so a ``radar worker`` on the thread writer cannot use much more than one core.
In a child process the writer runs on a core of its own; a batch crosses as one msgpack
blob (≈ 5 µs per post to encode in the parent, a few to decode in the child). Measured
on the 2-core bench machine, where tansu and the producer share the cores, the two
measured alike once the worker's collector was tuned and waiting batches were grouped
(``bench/README.md``), so a thread stays the default; the process is for hosts with a
core to spare per worker.

The child is started with ``spawn``, never ``fork``: a worker has threads (aiokafka,
the readers) whose locks a fork would copy mid-use. It ignores SIGINT, so Ctrl-C stops
the parent, which then finishes its last write and closes the child; and it exits
within half a second when the parent dies, even by SIGKILL. If the child dies, the call
in flight fails (its transaction rolled back by SQLite), and the next call starts a new
child: callers retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Concatenate, Literal, ParamSpec, Protocol, TypeVar

import msgspec

from pipeline.models import AccountRisk, ScoredPost, SourceState
from pipeline.store import sqlite_rows as rows
from pipeline.store.migrate import migrate
from pipeline.store.sqlite_writes import ensure_fts_tokenizer, upsert_accounts, upsert_posts

T = TypeVar("T")
P = ParamSpec("P")
WriterKind = Literal["thread", "process"]
Write = Callable[Concatenate[sqlite3.Connection, P], T]

_Batch = tuple[list[ScoredPost], list[AccountRisk], list[SourceState]]
_encode_batch = msgspec.msgpack.Encoder().encode
_decode_batch = msgspec.msgpack.Decoder(_Batch).decode


def connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection as every part of the store uses it, reader or writer."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    con.execute("PRAGMA foreign_keys = ON")
    return con


def open_writer(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """The writer connection: WAL, the schema migrated, the FTS index on this tokenizer."""
    con = connect(path, busy_timeout_ms)
    try:
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: SQLite refused WAL mode (got {mode!r})")
        con.execute("PRAGMA synchronous = NORMAL")
        migrate(con)
        ensure_fts_tokenizer(con)
    except BaseException:
        con.close()
        raise
    return con


def close_writer(con: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        con.execute("PRAGMA optimize")
    con.close()


def in_transaction(con: sqlite3.Connection, fn: Write[P, T], *args: P.args) -> T:
    """``fn(con, *args)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back if it raises."""
    con.execute("BEGIN IMMEDIATE")
    try:
        result = fn(con, *args)
    except BaseException:
        if con.in_transaction:  # SQLite may have rolled back already
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return result


def write_batch(
    con: sqlite3.Connection,
    posts: Sequence[ScoredPost],
    accounts: Sequence[AccountRisk],
    checkpoints: Sequence[SourceState],
) -> None:
    """One batch of the pipeline: its posts, the accounts they changed, the sources'
    checkpoints. Run in one transaction, so a source never records a cursor past posts
    that were not stored."""
    if posts:
        upsert_posts(con, posts)
    if accounts:
        upsert_accounts(con, accounts)
    rows.UPSERT_CHECKPOINTS.run(con, [rows.checkpoint_params(s) for s in checkpoints])


class Writer(Protocol):
    """The one writer of a store. ``start`` opens (and migrates) the file; every call
    is one transaction; ``stop`` closes it."""

    async def start(self) -> None: ...

    async def call(self, fn: Write[P, T], *args: P.args) -> T: ...

    async def write_batch(
        self,
        posts: list[ScoredPost],
        accounts: list[AccountRisk],
        checkpoints: list[SourceState],
    ) -> None: ...

    async def stop(self) -> None: ...


class ThreadWriter:
    """The writer connection on one thread of this process."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._pool: ThreadPoolExecutor | None = None
        self.connection: sqlite3.Connection | None = None

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self.connection = await _run(self._pool, open_writer, self.path, self._busy_timeout_ms)

    async def call(self, fn: Write[P, T], *args: P.args) -> T:
        if self._pool is None or self.connection is None:
            raise RuntimeError("SqliteStore is not open")
        return await _run(self._pool, in_transaction, self.connection, fn, *args)

    async def write_batch(
        self,
        posts: list[ScoredPost],
        accounts: list[AccountRisk],
        checkpoints: list[SourceState],
    ) -> None:
        await self.call(write_batch, posts, accounts, checkpoints)

    async def stop(self) -> None:
        pool, con = self._pool, self.connection
        self._pool = self.connection = None
        if pool is None:
            return
        if con is not None:
            await _run(pool, close_writer, con)
        await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)


class ProcessWriter:
    """The writer connection in a child process of its own (see the module docstring)."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        await self._started()

    async def _started(self) -> ProcessPoolExecutor:
        """The running child, started (and the file opened in it) if there is none."""
        if self._pool is None:
            pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_init,
            )
            try:
                await _run(pool, _child_open, self.path, self._busy_timeout_ms)
            except BrokenProcessPool as exc:
                pool.shutdown(wait=False, cancel_futures=True)
                raise RuntimeError(
                    f"{self.path}: the SQLite writer process could not start ({exc}); a"
                    " program that opens the store must guard its start with"
                    ' `if __name__ == "__main__":`, as multiprocessing\'s spawn requires'
                ) from exc
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            self._pool = pool
        return self._pool

    async def call(self, fn: Write[P, T], *args: P.args) -> T:
        pool = await self._started()
        try:
            return await _run(pool, _child_call, fn, args)
        except BrokenProcessPool as exc:
            self._pool = None  # the next call starts a new child
            pool.shutdown(wait=False, cancel_futures=True)
            raise RuntimeError(f"{self.path}: the SQLite writer process died ({exc})") from exc

    async def write_batch(
        self,
        posts: list[ScoredPost],
        accounts: list[AccountRisk],
        checkpoints: list[SourceState],
    ) -> None:
        await self.call(_write_encoded_batch, _encode_batch((posts, accounts, checkpoints)))

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            with contextlib.suppress(BrokenProcessPool):  # a dead child has nothing to close
                await _run(pool, _child_close)
        finally:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)


def make_writer(kind: WriterKind, path: Path, busy_timeout_ms: int) -> Writer:
    if kind == "process":
        return ProcessWriter(path, busy_timeout_ms)
    return ThreadWriter(path, busy_timeout_ms)


async def _run(pool: Executor, fn: Callable[..., T], *args: object) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(fn, *args))


# -- in the child process ----------------------------------------------------------------

_child_connection: sqlite3.Connection | None = None
_PARENT_POLL_SECONDS = 0.5


def _child_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A killed parent never closes the child's call queue (the child holds both ends of
    its pipe), so the child watches for being orphaned instead. Exiting mid-transaction
    is safe: SQLite rolls an unfinished one back."""
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_SECONDS)
    os._exit(0)


def _child_open(path: Path, busy_timeout_ms: int) -> None:
    global _child_connection
    _child_connection = open_writer(path, busy_timeout_ms)


def _child_call(fn: Write[P, T], args: tuple[object, ...]) -> T:
    if _child_connection is None:
        raise RuntimeError("the SQLite writer process has no open store")
    return in_transaction(_child_connection, fn, *args)


def _child_close() -> None:
    global _child_connection
    con, _child_connection = _child_connection, None
    if con is not None:
        close_writer(con)


def _write_encoded_batch(con: sqlite3.Connection, blob: bytes) -> None:
    write_batch(con, *_decode_batch(blob))
