"""The SQLite store's writer under a worker's load: four partitions writing at once.

A ``radar worker`` scores its partitions concurrently and each one writes its batch of
500 posts to the one SQLite writer. This measures ``SqliteStore.write_batch`` the same
way, in process (no Kafka), for each writer (``store.sqlite_writer``: thread, process)
and three ways of handing it the batches, in the same run:

- one per batch, in turn (the baseline): every batch its own transaction, the next
  handed over when the last has committed;
- grouped, in turn: the batches waiting for the writer go in as one transaction (up to
  2,000 posts), the next group handed over when the last has committed;
- grouped, queued: as above, with the next group handed over while the writer runs the
  last (``GroupCommit(depth=2)``, what the store does).

Nothing else runs on the event loop here, unlike in a worker, where detection keeps it
busy; so this shows what each costs the writer, not the overlap queueing buys a worker
(that is ``bench/stream.py``'s).

Reported: posts/s, and CPU per post of this process and the writer's child process if
any (``resource`` self + children is not enough: a live child's time is only counted
once it has been waited for, hence psutil).

    python bench/sqlite_writer.py [--posts 40000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from stream import mixed_posts  # noqa: E402

from detectors import Detector  # noqa: E402
from pipeline.stages import fold_accounts, score_posts  # noqa: E402
from pipeline.store.group_commit import GroupCommit  # noqa: E402
from pipeline.store.sqlite import SqliteStore  # noqa: E402
from pipeline.store.sqlite_writer import WriterKind  # noqa: E402

PARTITIONS = 4
BATCH = 500


def _cpu_seconds() -> float:
    me = psutil.Process()
    total = 0.0
    for each in (me, *me.children(recursive=True)):
        times = each.cpu_times()
        total += times.user + times.system
    return total


# (label, max_posts, depth); max_posts=0: a group is always at least one batch, so
# every batch goes alone
MODES = (
    ("one per batch, in turn (baseline)", 0, 1),
    ("grouped, in turn", 2_000, 1),
    ("grouped, queued", 2_000, 2),
)


async def _run(
    batches: list[tuple[list, list]], writer: WriterKind, max_posts: int, depth: int
) -> str:
    count = sum(len(scored) for scored, _ in batches)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "radar.sqlite3", writer=writer)
        await store.open()
        assert store._writer is not None
        store._group = GroupCommit(store._writer.submit_rows, max_posts=max_posts, depth=depth)
        queue = list(batches)

        async def partition() -> None:
            while queue:
                scored, accounts = queue.pop(0)
                await store.write_batch(scored, accounts)

        started, cpu = time.perf_counter(), _cpu_seconds()
        await asyncio.gather(*(partition() for _ in range(PARTITIONS)))
        wall, used = time.perf_counter() - started, _cpu_seconds() - cpu
        transactions = store._group.transactions
        await store.close()
    return (
        f"{writer:7s} {count / wall:7,.0f} posts/s  {used / count * 1e6:4.0f} µs CPU/post"
        f"  {transactions} transactions"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    posts = mixed_posts(args.posts, args.posts // 10)
    detector, batches, states = Detector(), [], {}
    for start in range(0, len(posts), BATCH):
        scored = score_posts(detector, posts[start : start + BATCH])
        accounts = fold_accounts(scored, states)
        states.update(accounts)
        batches.append((scored, list(accounts.values())))
    print(f"{args.posts:,} posts, {PARTITIONS} partitions writing batches of {BATCH} at once")
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}")
        for writer in ("thread", "process"):
            for label, max_posts, depth in MODES:
                line = await _run(batches, writer, max_posts, depth)
                print(f"  {label:34s} {line}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
