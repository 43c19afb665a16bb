"""Where the SQLite store's one writer connection lives: a thread, or a process of its own.

SQLite has one writer at a time, so a store sends every write through ONE connection,
one call after another, each call one ``BEGIN IMMEDIATE`` … ``COMMIT``. Every write is a
module-level function ``fn(con, *args)``, so either writer can run it: the thread calls
it, the process receives it by reference (pickle).

Why a process (``store.sqlite_writer = "process"``, what ``"auto"`` gives ``radar
worker``): sqlite3 releases the GIL inside SQLite, but a writer thread still needs the
GIL for its Python (binding parameters, reading back ids) and after every step, beside an
event loop kept busy by detection, faust and Kafka. In a child process the writer runs
on a core of its own. The caller builds the batch's rows with their FTS token strings
(:mod:`pipeline.store.sqlite_batch`), and they cross as one msgpack blob (~2 µs per post
to encode, ~7 to decode); the child runs the SQL. Group commit hands the child its next
transaction while it runs the last (:mod:`pipeline.store.group_commit`), so it goes
straight on. Measured end to end in ``bench/README.md``.

The child is started with ``spawn``, never ``fork``: a worker has threads (aiokafka,
the readers) whose locks a fork would copy mid-use. It ignores SIGINT, so Ctrl-C stops
the parent, which then finishes its last write and closes the child; and it exits
within half a second when the parent dies, even by SIGKILL. If the child dies, the calls
in flight fail (a transaction it was running is rolled back by SQLite), and the next
call starts a new child: callers retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Concatenate, Literal, ParamSpec, Protocol, TypeVar

from pipeline.store import sqlite_batch
from pipeline.store.migrate import migrate
from pipeline.store.sqlite_batch import BatchRows
from pipeline.store.sqlite_writes import ensure_fts_tokenizer, write_rows

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
# The most a call pipe is widened to: a 2,000-post transaction's rows are ~1.9 MB.
CALL_PIPE_BYTES = 4 << 20
WriterKind = Literal["thread", "process"]
Write = Callable[Concatenate[sqlite3.Connection, P], T]


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


class Writer(Protocol):
    """The one writer of a store. ``start`` opens (and migrates) the file; every call
    is one transaction, run in the order submitted; ``stop`` closes it."""

    async def start(self) -> None: ...

    async def call(self, fn: Write[P, T], *args: P.args) -> T: ...

    async def submit_rows(self, batch: BatchRows) -> Awaitable[None]:
        """Queue one transaction writing ``batch``; the awaitable returned completes
        when it has committed (so a caller can queue the next one meanwhile)."""
        ...

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
        return await self._submit(fn, *args)

    async def submit_rows(self, batch: BatchRows) -> Awaitable[None]:
        return self._submit(write_rows, batch)

    def _submit(self, fn: Write[P, T], *args: P.args) -> asyncio.Future[T]:
        if self._pool is None or self.connection is None:
            raise RuntimeError("SqliteStore is not open")
        return _submit(self._pool, in_transaction, self.connection, fn, *args)

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
        self._starting = asyncio.Lock()  # two callers must not start two children

    async def start(self) -> None:
        await self._started()

    async def _started(self) -> ProcessPoolExecutor:
        """The running child, started (and the file opened in it) if there is none."""
        async with self._starting:
            if self._pool is None:
                self._pool = await self._start_child()
            return self._pool

    async def _start_child(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_init,
        )
        _widen_call_pipe(pool)
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
        return pool

    async def call(self, fn: Write[P, T], *args: P.args) -> T:
        return await (await self._submit(fn, *args))

    async def submit_rows(self, batch: BatchRows) -> Awaitable[None]:
        # the rows were built in this process and cross as one blob: the child's time is
        # the scarce one (module docstring of pipeline.store.sqlite_batch)
        return await self._submit(_write_encoded_rows, sqlite_batch.encode(batch))

    async def _submit(self, fn: Write[P, T], *args: P.args) -> Awaitable[T]:
        pool = await self._started()
        try:
            result = _submit(pool, _child_call, fn, args)
        except BrokenProcessPool as exc:  # the pool already knew its child was dead
            raise self._died(pool, exc) from exc
        return self._outcome(pool, result)

    async def _outcome(self, pool: ProcessPoolExecutor, result: asyncio.Future[T]) -> T:
        try:
            return await result
        except BrokenProcessPool as exc:
            raise self._died(pool, exc) from exc

    def _died(self, pool: ProcessPoolExecutor, exc: BrokenProcessPool) -> RuntimeError:
        if self._pool is pool:
            self._pool = None  # the next call starts a new child
            pool.shutdown(wait=False, cancel_futures=True)
        return RuntimeError(f"{self.path}: the SQLite writer process died ({exc})")

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            with contextlib.suppress(BrokenProcessPool):  # a dead child has nothing to close
                await _run(pool, _child_close)
        finally:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)


def _widen_call_pipe(pool: ProcessPoolExecutor) -> None:
    """Let the pipe that carries calls to the child hold as much of a transaction's rows
    as the system allows an unprivileged process (``/proc/sys/fs/pipe-max-size``, 1 MiB
    by default), instead of the default 64 KiB.

    Why: the child reads its next transaction only once it finished the last. Through a
    64 KiB pipe a 2,000-post blob (~1.9 MB) then crossed in some thirty wake-ups of the
    parent's feeder thread, each waiting for a core that detection kept busy: the child
    sat idle 6-23 ms between transactions (3-9 ms with 1 MiB), and the two processes
    spent ~12% more CPU per post. A worker moved 4.7-5.1k posts/s end to end with it,
    against 5.9-6.0k with a 1 MiB pipe (three alternating rounds, ``bench/README.md``).
    With cores to spare the two pipes measured the same: it matters when they are busy.

    The pipe belongs to the executor (CPython's private ``_call_queue``), so it is looked
    up defensively: without it, or off Linux, the writer works as before, only slower."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    writer = getattr(getattr(pool, "_call_queue", None), "_writer", None)
    if setpipe is None or writer is None:
        log.info("the SQLite writer's call pipe keeps its default size")
        return
    try:
        allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(writer.fileno(), setpipe, min(allowed, CALL_PIPE_BYTES))
    except (OSError, ValueError) as exc:
        log.info("the SQLite writer's call pipe keeps its default size (%s)", exc)


def make_writer(kind: WriterKind, path: Path, busy_timeout_ms: int) -> Writer:
    if kind == "process":
        return ProcessWriter(path, busy_timeout_ms)
    return ThreadWriter(path, busy_timeout_ms)


def _submit(pool: Executor, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """``fn(*args)`` handed to ``pool`` now (not when awaited), so calls keep their order."""
    return asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args))


async def _run(pool: Executor, fn: Callable[..., T], *args: object) -> T:
    return await _submit(pool, fn, *args)


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


def _write_encoded_rows(con: sqlite3.Connection, blob: bytes) -> None:
    write_rows(con, sqlite_batch.decode(blob))
