"""Scale-out throughput: produce → ``radar worker`` × W → indexed, against raw aiokafka.

For each worker count (default 1 and 2) a fresh tansu broker and a fresh osmem server
are started on loopback, the workers are started and given time to join, then N posts
are published the way ``radar collect`` publishes them. The clock runs from the first
send to the moment the store holds all N posts; every second the consumer group's lag
(end offsets minus committed offsets of ``radar.posts.raw``) and the indexed count are
sampled, and the workers' CPU time is read, so the figure a worker would reach with a
store that keeps up (posts per worker CPU-second) is reported next to the wall clock,
and so is the sustained rate (from 20% to 90% indexed), without the start and the tail.

The posts (``--stream``): ``mix`` (default) is bench/detect.py's realistic mix, about one
post in ten with scheme vocabulary; ``feed`` repeats the bundled sample feed, where
nearly every post quotes scheme vocabulary (the detector's slow path), as the
integration test does.

Baselines in the same run: the same N messages (same bytes, same keys) produced with
aiokafka (acks=all) and consumed back with ``getmany``; the same messages through a faust
agent that only counts them (bench/faust_baseline.py: same settings and batches as the
worker), which is what faust itself costs per message here; and the stages and the
stores alone, in process.

    python bench/stream.py [--posts 20000] [--workers 1 2] [--stores elasticsearch sqlite]
                           [--stream mix|feed] [--partitions 12] [--unbundled]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration"), str(ROOT / "bench")]

from detect import make_posts  # noqa: E402
from scaleout_support import (  # noqa: E402
    Tansu,
    Worker,
    create_topic,
    generate_posts,
    start_osmem,
    stop_process,
    write_config,
)

from detectors import Detector  # noqa: E402
from pipeline.kafka_settings import POSTS_TOPIC, KafkaSettings  # noqa: E402
from pipeline.models import Post  # noqa: E402
from pipeline.post_bundles import DEFAULT_BUNDLE_POSTS, post_key_of  # noqa: E402
from pipeline.publisher import publish_posts  # noqa: E402
from pipeline.stages import fold_accounts, score_posts  # noqa: E402
from pipeline.store.base import Store  # noqa: E402
from pipeline.store.elasticsearch import ElasticsearchStore  # noqa: E402
from pipeline.store.es_settings import ElasticsearchSettings  # noqa: E402
from pipeline.store.sqlite import SqliteStore  # noqa: E402

# The posts topic's partitions (--partitions), the deployed default unless set: each
# partition is one concurrent actor in a worker, so the count sets how much of a
# worker's store writing overlaps its detection.
PARTITIONS = KafkaSettings().partitions
GROUP = "radar"


def mixed_posts(count: int, accounts: int) -> list[Post]:
    """bench/detect.py's realistic mix as posts of ``accounts`` authors over 3 months."""
    t0 = datetime(2026, 8, 1, tzinfo=UTC)
    return [
        Post(
            platform=("weibo", "douyin", "xiaohongshu")[i % 3],
            post_id=f"mix-{i:07d}",
            text=text,
            source="bench",
            author_id=f"acct-{i % accounts:05d}",
            author_name=f"用户{i % accounts}",
            author_bio=bio,
            created_at=t0 + timedelta(minutes=7 * i),
            collected_at=t0 + timedelta(days=100),
        )
        for i, (text, bio) in enumerate(make_posts(count))
    ]


def _cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    """User + system CPU time of these processes so far: all their threads, and their
    live children (a SQLite writer process, ``store.sqlite_writer = "process"``)."""
    total = 0.0
    for process in processes:
        parent = psutil.Process(process.pid)
        for each in (parent, *parent.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = each.cpu_times()
                total += times.user + times.system
    return total


_SPIN = "n = 0\nwhile n < 30_000_000: n += 1"


def parallelism() -> float:
    """How many cores this machine really gives: the throughput of two CPU-bound
    processes at once over that of one. A worker overlaps its store's work (SQLite's
    C code, tansu, osmem) with detection only as far as this allows; 2.0 on two idle
    cores, less on shared or hyper-threaded ones."""

    def run(n: int) -> float:
        started = time.perf_counter()
        spinners = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(n)]
        for spinner in spinners:
            spinner.wait()
        return time.perf_counter() - started

    one = min(run(1) for _ in range(2))
    two = min(run(2) for _ in range(2))
    return 2 * one / two


async def baseline(posts: list, workdir: Path) -> tuple[float, float]:
    """Raw aiokafka: (produce msg/s, consume msg/s) for the same messages."""
    tansu = Tansu.start(workdir / "tansu-baseline.log")
    encoder = msgspec.json.Encoder()
    messages = [(post_key_of(p).encode(), encoder.encode(p)) for p in posts]
    try:
        await create_topic(tansu.bootstrap, PARTITIONS, "bench.raw")
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        started = time.perf_counter()
        futures = [await producer.send("bench.raw", value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
        produce = len(messages) / (time.perf_counter() - started)
        await producer.stop()
        consumer = AIOKafkaConsumer(
            "bench.raw",
            bootstrap_servers=tansu.bootstrap,
            group_id="bench",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        started = time.perf_counter()
        seen = 0
        while seen < len(messages):
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        consume = len(messages) / (time.perf_counter() - started)
        await consumer.stop()
    finally:
        tansu.stop()
    return produce, consume


async def _write_rate(store: Store, batches: list[tuple[list, list]], count: int) -> float:
    """``store.write_batch`` posts/s over pre-scored batches (opened and closed here)."""
    await store.open()
    try:
        started = time.perf_counter()
        for scored, accounts in batches:
            await store.write_batch(scored, accounts)
        return count / (time.perf_counter() - started)
    finally:
        await store.close()


async def stages_alone(posts: list, workdir: Path) -> tuple[float, float, float]:
    """What one worker's batch costs without Kafka: (detect + fold posts/s in process,
    ``ElasticsearchStore.write_batch`` posts/s on a fresh osmem, ``SqliteStore``'s)."""
    detector = Detector()
    started = time.perf_counter()
    batches = []
    for i in range(0, len(posts), 500):
        scored = score_posts(detector, posts[i : i + 500])
        batches.append((scored, list(fold_accounts(scored, {}).values())))
    detect = len(posts) / (time.perf_counter() - started)
    osmem = start_osmem()
    try:
        settings = ElasticsearchSettings(
            hosts=[osmem.url], compat="opensearch", request_timeout=30.0
        )
        write = await _write_rate(ElasticsearchStore(settings), batches, len(posts))
    finally:
        osmem.close()
    sqlite = SqliteStore(workdir / "stages-alone.sqlite3")
    return detect, write, await _write_rate(sqlite, batches, len(posts))


async def faust_alone(posts: list, workdir: Path) -> tuple[float, float]:
    """A faust agent that only counts (bench/faust_baseline.py), 1 worker: (posts/s wall
    clock from the first send, posts per CPU-second of that worker)."""
    run = workdir / "faust-baseline"
    run.mkdir()
    tansu = Tansu.start(run / "tansu.log")
    config = write_config(
        run / "radar.toml", tansu.bootstrap, "http://127.0.0.1:9", partitions=PARTITIONS
    )
    count_file = run / "count"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    env["RADAR_DATA_DIR"] = str(run / "data")
    with (run / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "faust_baseline.py"),
                str(config),
                str(count_file),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        await create_topic(tansu.bootstrap, PARTITIONS)
        await asyncio.sleep(15.0)  # join the group (no "Worker ready" line at WARNING)
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        cpu_before = _cpu_seconds([process])
        started = time.perf_counter()
        await publish_posts(producer, posts)
        await producer.stop()
        seen = 0
        while seen < len(posts):
            await asyncio.sleep(0.2)
            text = count_file.read_text("utf-8") if count_file.exists() else "0"
            seen = int(text or 0)
            if time.perf_counter() - started > 600:
                raise TimeoutError(f"faust baseline saw only {seen} posts")
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds([process]) - cpu_before
    finally:
        stop_process(process)
        tansu.stop()
    return len(posts) / elapsed, len(posts) / cpu


async def _lag(consumer: AIOKafkaConsumer) -> int | None:
    """End offsets minus the group's committed offsets, over all partitions."""
    tps = [TopicPartition(POSTS_TOPIC, p) for p in range(PARTITIONS)]
    try:
        ends = await consumer.end_offsets(tps)
        committed = [await consumer.committed(tp) for tp in tps]
    except Exception:
        return None
    # tansu reports end offsets a little behind (see deploy/README.md), hence max(0, …)
    return sum(max(0, ends[tp] - (done or 0)) for tp, done in zip(tps, committed, strict=True))


async def _wait_ready(workers: list[Worker], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("Worker ready" in w.log() for w in workers):
            await asyncio.sleep(3.0)  # let the last rebalance settle
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("workers did not start")


async def pipeline(
    posts: list,
    n_workers: int,
    workdir: Path,
    store_kind: str = "elasticsearch",
    bundle_posts: int = DEFAULT_BUNDLE_POSTS,
) -> tuple[float, float, list[tuple]]:
    """End-to-end posts/s with ``n_workers`` workers, posts per worker CPU-second, and
    (t, indexed, lag) samples.

    ``store_kind = "sqlite"`` swaps osmem for the workers' shared SQLite file: the same
    pipeline with a faster store, to show what the worker itself costs.
    ``bundle_posts = 1`` sends one post per message (what other producers may do)."""
    run = workdir / f"workers-{n_workers}-{store_kind}-{bundle_posts}"
    run.mkdir()
    tansu = Tansu.start(run / "tansu.log")
    osmem = start_osmem()
    # As deployed: verdicts published, normal producer batches, the default write batch
    # (no worker is killed here, so tansu's short end offsets cannot cut a table recovery).
    config = write_config(
        run / "radar.toml",
        tansu.bootstrap,
        osmem.url,
        partitions=PARTITIONS,
        publish_verdicts=True,
        producer_max_batch_bytes=16384,
        bundle_posts=bundle_posts,
        batch_size=KafkaSettings().batch_size,
    )
    store: Store
    if store_kind == "sqlite":
        shared = run / "data" / "radar.sqlite3"  # absolute: each worker has its data_dir
        text = config.read_text("utf-8").replace(
            'kind = "elasticsearch"', f'kind = "sqlite"\nsqlite_path = "{shared}"'
        )
        config.write_text(text, encoding="utf-8")
        store = SqliteStore(shared)
    else:
        store = ElasticsearchStore(
            ElasticsearchSettings(hosts=[osmem.url], compat="opensearch", request_timeout=30.0)
        )
    workers = [Worker(config, run / f"worker-{i}.log") for i in range(n_workers)]
    # Reads the group's committed offsets (never joins it: it subscribes to nothing).
    offsets = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap, group_id=GROUP)
    samples: list[tuple] = []
    try:
        await create_topic(tansu.bootstrap, PARTITIONS)
        for worker in workers:
            worker.start()
        await _wait_ready(workers)
        (run / "data").mkdir(exist_ok=True)
        await store.open()
        await offsets.start()
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        processes = [w.process for w in workers if w.process is not None]
        cpu_before = _cpu_seconds(processes)
        started = time.perf_counter()
        await publish_posts(producer, posts, bundle_posts=bundle_posts)
        await producer.stop()
        produced_in = time.perf_counter() - started
        indexed = 0
        while indexed < len(posts):
            await asyncio.sleep(1.0)
            indexed = await store.count_posts()
            lag = await _lag(offsets)
            samples.append((round(time.perf_counter() - started, 1), indexed, lag))
            if time.perf_counter() - started > 900:
                raise TimeoutError(f"only {indexed} indexed after 15 minutes")
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(processes) - cpu_before
        print(f"  produced in {produced_in:.1f}s; all indexed after {elapsed:.1f}s")
    finally:
        for worker in workers:
            worker.stop()
        await offsets.stop()
        await store.close()
        osmem.close()
        tansu.stop()
    return len(posts) / elapsed, len(posts) / cpu, samples


def sustained(samples: list[tuple], total: int) -> float | None:
    """Posts/s between the first samples with 20% and 90% of ``total`` indexed: the rate
    once every partition is flowing, without the start (the first fetches, the first
    batch of each partition) or the tail. None if the run was too short to tell."""
    try:
        low = next(s for s in samples if s[1] >= 0.2 * total)
        high = next(s for s in samples if s[1] >= 0.9 * total)
    except StopIteration:
        return None
    if high[0] <= low[0]:
        return None
    return float(high[1] - low[1]) / (high[0] - low[0])


async def main() -> None:
    global PARTITIONS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--stores", nargs="+", default=["elasticsearch", "sqlite"], help="store per run"
    )
    parser.add_argument("--stream", choices=["mix", "feed"], default="mix")
    parser.add_argument(
        "--partitions",
        type=int,
        default=PARTITIONS,
        help=f"of the posts topic (default {PARTITIONS}, stream.kafka.partitions' default)",
    )
    parser.add_argument(
        "--unbundled",
        action="store_true",
        help="also run each pipeline with one post per message (bundle_posts = 1)",
    )
    args = parser.parse_args()
    PARTITIONS = args.partitions
    accounts = max(args.posts // 10, 1)
    if args.stream == "mix":
        posts = mixed_posts(args.posts, accounts)
    else:
        posts = generate_posts(args.posts, accounts)
    print(f"machine: two CPU-bound processes run at {parallelism():.2f}x the speed of one")
    with tempfile.TemporaryDirectory(prefix="radar-bench-stream-") as tmp:
        workdir = Path(tmp)
        produce, consume = await baseline(posts, workdir)
        print(f"baseline aiokafka: produce {produce:,.0f} msg/s, consume {consume:,.0f} msg/s")
        wall, per_cpu = await faust_alone(posts, workdir)
        print(
            f"baseline faust agent (count only), 1 worker: {wall:,.0f} posts/s, "
            f"{per_cpu:,.0f} posts per CPU-second"
        )
        detect, write, write_sqlite = await stages_alone(posts, workdir)
        print(
            f"stages alone: detect+fold {detect:,.0f} posts/s, ES write_batch {write:,.0f}/s,"
            f" SQLite write_batch {write_sqlite:,.0f}/s"
        )
        bundles = [DEFAULT_BUNDLE_POSTS, 1] if args.unbundled else [DEFAULT_BUNDLE_POSTS]
        runs = [(k, n, b) for k in args.stores for n in args.workers for b in bundles]
        for kind, n, size in runs:
            print(f"pipeline → {kind}, {n} worker(s), {args.posts:,} posts, {size}/message:")
            rate, per_cpu, samples = await pipeline(posts, n, workdir, kind, size)
            steady = sustained(samples, len(posts))
            print(
                f"  end to end {rate:,.0f} posts/s ({rate / n:,.0f} per worker); "
                f"{per_cpu:,.0f} posts per worker CPU-second; sustained "
                + (f"{steady:,.0f} posts/s (20-90% indexed)" if steady else "? (run too short)")
            )
            print("  t(s)  indexed  lag")
            step = max(len(samples) // 12, 1)
            for t, indexed, lag in samples[::step] + samples[-1:]:
                print(f"  {t:5.1f}  {indexed:7d}  {lag if lag is not None else '?'}")


if __name__ == "__main__":
    asyncio.run(main())
