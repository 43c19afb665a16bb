"""Ingest throughput: a 100k-post JSONL file through the whole in-process pipeline.

Measures, in one process and on the same generated file:
  1. pipeline: files source → decode → dedupe → detect → account fold → SqliteStore
     (posts, verdicts, FTS, contacts, accounts, checkpoints), as ``radar import`` runs it;
  2. stages alone: detection only, and ``write_batch`` of pre-scored posts only, to show
     where the time goes;
  3. baseline: the same post rows inserted with plain ``executemany`` into one SQLite
     table (WAL, no index, no detection).
Prints posts/s, the ratio to the baseline, and peak RSS during the pipeline run.

Run: ``python bench/ingest.py [--posts 100000]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.sample import bundled_feed_path
from detectors import Detector
from pipeline.config import load_settings
from pipeline.importer import import_files
from pipeline.models import Post
from pipeline.stages import score_posts
from pipeline.store.sqlite import SqliteStore

_FIELDS = ("platform", "author_id", "author_name", "author_bio", "url", "created_at")


def generate(path: Path, count: int, seed: int = 7) -> None:
    """Sample-feed posts, re-identified, spread over 20k authors; about one post in ten
    carries scheme vocabulary (the feed's black-market posts are down-sampled)."""
    rng = random.Random(seed)
    feed = [json.loads(line) for line in bundled_feed_path().read_text("utf-8").splitlines()]
    schemes = [r for r in feed if r.get("label") == 1]
    others = [r for r in feed if r.get("label") != 1]
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            base = rng.choice(schemes) if rng.random() < 0.1 else rng.choice(others)
            record = {key: base[key] for key in _FIELDS if base.get(key)}
            record["id"] = f"b{index}"
            record["author_id"] = f"a{rng.randrange(20_000)}"
            record["text"] = f"{base['text']} #{index}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


class PeakRss:
    """Samples RSS every 20 ms in a thread: peak memory without tracemalloc's slowdown."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_pipeline(source: Path, data_dir: Path) -> float:
    settings = load_settings(environ={}, overrides={"data_dir": str(data_dir)})
    settings.log_level = "WARNING"
    start = time.perf_counter()
    status = asyncio.run(import_files(settings, str(source)))
    if status not in (0, 1):
        raise SystemExit(f"import failed with status {status}")
    return time.perf_counter() - start


def read_posts(source: Path) -> list[Post]:
    posts = []
    for line in source.read_bytes().splitlines():
        record = msgspec.json.decode(line)
        posts.append(
            Post(
                platform=record.get("platform", "files"),
                post_id=record["id"],
                text=record["text"],
                author_id=record.get("author_id"),
                author_name=record.get("author_name"),
                author_bio=record.get("author_bio"),
                url=record.get("url"),
            )
        )
    return posts


def run_detect_only(posts: list[Post], batch: int = 500) -> tuple[float, list]:
    """Batched as the runner's detect stage batches (up to ``stream.batch_size``)."""
    detector = Detector()
    start = time.perf_counter()
    scored = []
    for i in range(0, len(posts), batch):
        scored += score_posts(detector, posts[i : i + batch])
    return time.perf_counter() - start, scored


def run_store_only(scored: list, data_dir: Path, batch: int = 500) -> float:
    async def write() -> float:
        store = SqliteStore(data_dir / "store-only.sqlite3")
        await store.open()
        start = time.perf_counter()
        for i in range(0, len(scored), batch):
            await store.write_batch(scored[i : i + batch])
        elapsed = time.perf_counter() - start
        await store.close()
        return elapsed

    return asyncio.run(write())


def run_baseline(posts: list[Post], data_dir: Path, batch: int = 500) -> float:
    db = sqlite3.connect(data_dir / "baseline.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE posts (key TEXT PRIMARY KEY, platform TEXT, post_id TEXT, text TEXT,"
        " author_id TEXT, author_name TEXT, author_bio TEXT, url TEXT)"
    )
    rows = [
        (p.key, p.platform, p.post_id, p.text, p.author_id, p.author_name, p.author_bio, p.url)
        for p in posts
    ]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        with db:
            db.executemany("INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[i : i + batch])
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    args = parser.parse_args()
    n = args.posts
    with tempfile.TemporaryDirectory(prefix="radar-bench-") as tmp:
        tmp_path = Path(tmp)
        source = tmp_path / "posts.jsonl"
        generate(source, n)
        size_mb = source.stat().st_size / 1e6
        before = psutil.Process().memory_info().rss
        with PeakRss() as peak:
            pipeline = run_pipeline(source, tmp_path / "pipeline")
        posts = read_posts(source)
        detect, scored = run_detect_only(posts)
        store_only = run_store_only(scored, tmp_path)
        baseline = run_baseline(posts, tmp_path)
    print(f"input: {n:,} posts, {size_mb:.1f} MB JSONL, ~10% with scheme vocabulary")
    print(f"{'run':44} {'seconds':>8} {'posts/s':>10} {'vs baseline':>12}")
    rows = [
        ("pipeline (radar import: all stages, SQLite)", pipeline),
        ("  detection alone (batches of 500)", detect),
        ("  store.write_batch alone (pre-scored)", store_only),
        ("baseline: plain executemany, one table", baseline),
    ]
    for name, seconds in rows:
        print(f"{name:44} {seconds:8.2f} {n / seconds:10,.0f} {seconds / baseline:11.1f}x")
    print(
        f"peak RSS during the pipeline: {peak.peak / 1e6:,.0f} MB "
        f"(process before: {before / 1e6:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
