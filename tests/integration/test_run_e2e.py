"""`radar run` as a user runs it: a subprocess on a free port and a temporary data dir,
the bundled sample feed sped up, stopped with SIGTERM mid-feed and killed with SIGKILL,
restarted each time. At the end every post of the feed is stored exactly once and every
black-market post is flagged, and nothing the feed marks as not black-market is."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from collectors.sample import bundled_feed_path
from pipeline.models import SearchQuery
from pipeline.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

FEED = [json.loads(line) for line in bundled_feed_path().read_text("utf-8").splitlines()]
FEED_KEYS = {f"{r['platform']}:{r['id']}" for r in FEED}


class Monitor:
    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        env = dict(os.environ)
        env["RADAR_SAMPLE__DURATION_SECONDS"] = "15"
        env["RADAR_SAMPLE__INTERVAL_SECONDS"] = "0.5"
        env.pop("RADAR_CONFIG", None)
        cmd = [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
        self.wait_for(lambda: self.get("/healthz") is not None, "dashboard up")

    def get(self, path: str) -> dict | str | None:
        try:
            response = httpx.get(self.url + path, timeout=2)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        kind = response.headers.get("content-type", "")
        return response.json() if kind.startswith("application/json") else response.text

    def wait_for(self, check, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"radar run exited early ({self.proc.returncode}):\n{self.tail()}")
            if check():
                return
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}:\n{self.tail()}")

    def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def stored(self) -> int:
        status = self.get("/api/status")
        return status["store"]["posts"] if isinstance(status, dict) else -1

    def tail(self) -> str:
        return self.log.read_text("utf-8", "replace")[-3000:]


def all_posts(db: Path) -> list:
    async def read():
        store = SqliteStore(db)
        await store.open()
        try:
            hits, page = [], 1
            while True:
                result = await store.search(
                    SearchQuery(flagged_only=False, page=page, page_size=100)
                )
                hits += result.results
                if len(hits) >= result.total or not result.results:
                    return hits, result.total, await store.count_posts()
                page += 1
        finally:
            await store.close()

    return asyncio.run(read())


def test_monitor_survives_sigterm_and_sigkill_and_stores_every_post_once(tmp_path, free_port):
    monitor = Monitor(tmp_path / "data", free_port, tmp_path / "radar.log")
    monitor.start()
    monitor.wait_for(
        lambda: (monitor.get("/api/search") or {}).get("total", 0) > 0, "first flagged post"
    )
    assert "黑产雷达" in monitor.get("/")
    assert monitor.stop(signal.SIGTERM) == 0, monitor.tail()
    assert "stopped cleanly" in monitor.tail()
    first = all_posts(tmp_path / "data" / "radar.sqlite3")[2]
    assert 0 < first < len(FEED), "SIGTERM should land mid-feed"

    monitor.start()
    monitor.wait_for(lambda: monitor.stored() > first + 20, "progress after restart")
    monitor.stop(signal.SIGKILL)

    monitor.start()
    monitor.wait_for(lambda: monitor.stored() == len(FEED), "the whole feed", timeout=90)
    assert monitor.stop(signal.SIGTERM) == 0, monitor.tail()

    hits, total, count = all_posts(tmp_path / "data" / "radar.sqlite3")
    keys = [hit.post.key for hit in hits]
    assert count == total == len(keys) == len(FEED)
    assert len(set(keys)) == len(keys)
    assert set(keys) == FEED_KEYS
    flagged = {hit.post.key for hit in hits if hit.verdict.flagged}
    black_market = {f"{r['platform']}:{r['id']}" for r in FEED if r["label"] == 1}
    assert black_market - flagged == set()
    assert flagged - black_market == set()
