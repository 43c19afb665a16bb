"""The SQLite writer in a child process: what happens when either side dies or is signalled.

The store contract suite runs over this writer too (``sqlite-process`` in conftest.py);
these tests are about the process itself.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from store_factories import scored

from pipeline.store.sqlite import SqliteStore
from pipeline.store.sqlite_batch import batch_rows
from pipeline.store.sqlite_writer import CALL_PIPE_BYTES, ProcessWriter, _widen_call_pipe

ROOT = Path(__file__).resolve().parents[2]


def writer_pid(con: sqlite3.Connection) -> int:
    """Run by the writer: the pid of the process that holds the writer connection."""
    return os.getpid()


def slow_writer_pid(con: sqlite3.Connection, seconds: float) -> int:
    """Run by the writer: holds it for ``seconds``, so the next transaction queues."""
    time.sleep(seconds)
    return os.getpid()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by its parent) counts as gone
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
async def process_store(tmp_path: Path):
    store = SqliteStore(tmp_path / "radar.sqlite3", writer="process")
    await store.open()
    yield store
    await store.close()


async def test_writes_run_in_a_child_process(process_store: SqliteStore) -> None:
    pid = await process_store._write(writer_pid)
    assert pid != os.getpid()
    assert await process_store._write(writer_pid) == pid  # one child, kept


async def test_the_pipe_to_the_child_holds_most_of_a_transaction(
    process_store: SqliteStore,
) -> None:
    """A 2,000-post transaction is ~1.9 MB of rows; through the default 64 KiB pipe the
    child waited for it between transactions (``_widen_call_pipe``)."""
    writer = process_store._writer
    assert isinstance(writer, ProcessWriter) and writer._pool is not None
    pipe = writer._pool._call_queue._writer.fileno()
    allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    assert fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ) == min(allowed, CALL_PIPE_BYTES) > 64 * 1024


def test_a_pool_without_the_expected_pipe_keeps_working(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pipeline.store.sqlite_writer"):
        _widen_call_pipe(object())
    assert "keeps its default size" in caplog.text


async def test_a_dead_writer_fails_one_call_then_a_new_one_takes_over(
    process_store: SqliteStore,
) -> None:
    await process_store.write_batch([scored("p1", "全额退保 第一条")])
    first = await process_store._write(writer_pid)
    os.kill(first, signal.SIGKILL)
    assert wait_gone(first)

    with pytest.raises(RuntimeError, match="writer process died"):
        await process_store.write_batch([scored("p2", "全额退保 第二条")])
    # the caller retries, as the worker and the runner do: a new child, nothing lost
    await process_store.write_batch([scored("p2", "全额退保 第二条")])
    assert await process_store._write(writer_pid) not in (first, os.getpid())
    assert await process_store.count_posts() == 2


async def test_every_transaction_queued_on_a_dead_writer_fails_and_none_is_lost(
    process_store: SqliteStore,
) -> None:
    """Group commit queues the next transaction while the child runs one: both fail
    when the child dies, and both callers' retries go to one new child."""
    writer = process_store._writer
    assert writer is not None
    pid = await process_store._write(writer_pid)
    running = asyncio.create_task(writer.call(slow_writer_pid, 30.0))
    await asyncio.sleep(0.5)  # in the child now
    queued = asyncio.ensure_future(
        await writer.submit_rows(batch_rows([scored("p1", "全额退保 第一条")]))
    )
    os.kill(pid, signal.SIGKILL)
    for outcome in (running, queued):
        with pytest.raises(RuntimeError, match="writer process died"):
            await outcome
    await process_store.write_batch([scored("p1", "全额退保 第一条")])  # the retry
    assert await process_store._write(writer_pid) not in (pid, os.getpid())
    assert await process_store.count_posts() == 1


async def test_a_store_whose_writer_died_still_closes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "radar.sqlite3", writer="process")
    await store.open()
    pid = await store._write(writer_pid)
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    await store.close()  # no BrokenProcessPool out of close


async def test_the_writer_ignores_ctrl_c_so_the_last_batch_can_finish(
    process_store: SqliteStore,
) -> None:
    pid = await process_store._write(writer_pid)
    os.kill(pid, signal.SIGINT)  # what a terminal sends the whole process group
    time.sleep(0.2)
    await process_store.write_batch([scored("p1", "全额退保")])
    assert await process_store._write(writer_pid) == pid
    assert await process_store.count_posts() == 1


@pytest.mark.integration
def test_the_writer_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests" / "store")!r}]
        from store_factories import scored
        from pipeline.store.sqlite import SqliteStore

        def writer_pid(con):
            return os.getpid()

        async def main():
            store = SqliteStore({str(tmp_path / "radar.sqlite3")!r}, writer="process")
            await store.open()
            await store.write_batch([scored("p1", "全额退保")])
            print(await store._write(writer_pid), flush=True)
            await asyncio.sleep(60)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    path = tmp_path / "parent.py"
    path.write_text(script, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
    finally:
        parent.kill()  # SIGKILL: no close, no goodbye to the child
        parent.wait()
    assert wait_gone(child), "the writer outlived its parent"
    con = sqlite3.connect(tmp_path / "radar.sqlite3")
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 1  # committed stays
