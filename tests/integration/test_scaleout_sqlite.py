"""A ``radar worker`` on the SQLite store, with what ``store.sqlite_writer = "auto"``
gives a worker: its writer in a child process. Real tansu, a real worker process.

Posts are produced the way ``radar collect`` publishes them; the worker is SIGKILLed
mid-stream (its writer child must not outlive it, and may be killed mid-transaction) and
restarted. At the end every post is stored once with the embedded stage's verdict, and
every account's risk equals the in-order fold of its posts.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil
import pytest
from scaleout_support import (
    Tansu,
    Worker,
    create_topic,
    generate_posts,
    produce,
    risk_differences,
    verdict_differences,
    write_config,
)

from detectors import Detector
from pipeline.stages import fold_accounts, score_posts
from pipeline.store.sqlite import SqliteStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

COUNT = 4_000
ACCOUNTS = 400
PARTITIONS = 4
DEADLINE_SECONDS = 180.0


def writer_children(worker: Worker) -> list[psutil.Process]:
    assert worker.process is not None
    children = psutil.Process(worker.process.pid).children()
    return [c for c in children if "spawn_main" in " ".join(c.cmdline())]


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie (an orphan's exit may not be reaped at once here)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_for_ready(worker: Worker) -> None:
    """Both sides migrate the file on open; let the worker do it first."""
    deadline = time.monotonic() + 60
    while "Worker ready" not in worker.log():
        assert time.monotonic() < deadline, worker.log()[-3000:]
        await asyncio.sleep(0.2)


async def wait_for_posts(store: SqliteStore, target: int, worker: Worker, started: float) -> None:
    seen = 0
    while time.monotonic() - started < DEADLINE_SECONDS:
        assert worker.process is not None and worker.process.poll() is None, worker.log()[-3000:]
        seen = await store.count_posts()
        if seen >= target:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"only {seen}/{target} posts stored in time\n{worker.log()[-3000:]}")


async def test_a_sqlite_worker_writes_through_its_child_and_survives_a_kill(
    tmp_path: Path,
) -> None:
    tansu = Tansu.start(tmp_path / "tansu.log")
    shared = tmp_path / "data" / "radar.sqlite3"  # absolute: the worker has its own data_dir
    config = write_config(tmp_path / "radar.toml", tansu.bootstrap, "http://127.0.0.1:9")
    text = config.read_text("utf-8").replace(
        'kind = "elasticsearch"', f'kind = "sqlite"\nsqlite_path = "{shared}"'
    )
    config.write_text(text, encoding="utf-8")
    posts = generate_posts(COUNT, ACCOUNTS)
    worker = Worker(config, tmp_path / "worker.log")
    probe = SqliteStore(shared)
    started = time.monotonic()
    try:
        await create_topic(tansu.bootstrap, PARTITIONS)
        worker.start()
        await wait_for_ready(worker)
        await produce(tansu.bootstrap, posts[: COUNT // 2])
        await probe.open()
        await wait_for_posts(probe, COUNT // 8, worker, started)

        children = writer_children(worker)
        assert len(children) == 1, "the worker's SQLite writer is not a child process"
        worker.kill()
        psutil.wait_procs(children, timeout=10)
        assert [c.pid for c in children if _alive(c)] == [], "the writer outlived its worker"

        worker.start()
        await produce(tansu.bootstrap, posts[COUNT // 2 :])
        await wait_for_posts(probe, COUNT, worker, started)
        await asyncio.sleep(2.0)  # replays after the kill may still be rewriting
    finally:
        worker.stop()
        await probe.close()
        tansu.stop()

    store = SqliteStore(shared)
    await store.open()
    try:
        assert await store.count_posts() == COUNT  # each post once
        expected = [
            s for i in range(0, COUNT, 500) for s in score_posts(Detector(), posts[i : i + 500])
        ]
        wrong = []
        for want in expected:
            hit = await store.get_post(want.post.key)
            if hit is None or verdict_differences(hit.verdict, want.verdict):
                wrong.append(want.post.key)
        assert wrong == [], f"{len(wrong)} verdicts differ from the embedded stage's"
        assert any(want.verdict.flagged for want in expected)

        accounts = fold_accounts(expected, {})
        got = await store.get_accounts(sorted(accounts))
        assert sorted(got) == sorted(accounts)
        differ = [key for key, risk in accounts.items() if risk_differences(got[key], risk)]
        assert differ == [], f"{len(differ)} account risks differ from the in-order fold"
    finally:
        await store.close()
