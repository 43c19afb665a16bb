"""Everything user-facing on the Elasticsearch store: `radar run` with
``store.kind = "elasticsearch"`` against osmem on loopback plays the sample feed, and the
dashboard, the JSON API and `radar search` answer from that store."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from osmem_server import OsmemServer

from collectors.sample import bundled_feed_path

pytestmark = pytest.mark.integration

FEED = [json.loads(line) for line in bundled_feed_path().read_text("utf-8").splitlines()]
BLACK_MARKET = {f"{r['platform']}:{r['id']}" for r in FEED if r["label"] == 1}


@pytest.fixture
def osmem():
    server = OsmemServer.start(freeze=False)
    yield server
    server.close()


def config(tmp_path: Path, es_url: str) -> Path:
    path = tmp_path / "radar.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[store]\n"
        'kind = "elasticsearch"\n'
        "[store.elasticsearch]\n"
        f'hosts = ["{es_url}"]\n'
        'compat = "opensearch"\n'
        "[sample]\n"
        "duration_seconds = 4\n"
        "interval_seconds = 0.5\n",
        encoding="utf-8",
    )
    return path


def test_dashboard_api_and_terminal_search_work_on_elasticsearch(tmp_path, free_port, osmem):
    toml = config(tmp_path, osmem.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    log = (tmp_path / "radar.log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        "--config",
        str(toml),
        "--port",
        str(free_port),
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 120
        stored = -1
        while time.monotonic() < deadline and stored < len(FEED):
            assert proc.poll() is None, (tmp_path / "radar.log").read_text("utf-8")[-2000:]
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                stored = httpx.get(f"{base}/api/status", timeout=5).json()["store"]["posts"]
            time.sleep(0.5)
        assert stored == len(FEED), (tmp_path / "radar.log").read_text("utf-8")[-2000:]

        flagged, page = set(), 1
        while True:
            body = httpx.get(f"{base}/api/search", params={"page": page, "page_size": 100}).json()
            flagged |= {hit["key"] for hit in body["results"]}
            if not body["results"] or len(flagged) >= body["total"]:
                break
            page += 1
        assert flagged == BLACK_MARKET
        assert sum(body["facets"]["category"].values()) >= len(BLACK_MARKET)

        hit = httpx.get(f"{base}/api/search", params={"q": "退保"}).json()["results"][0]
        assert "退保" in hit["text"]
        account = httpx.get(f"{base}/api/accounts/{hit['platform']}/{hit['author_id']}")
        assert account.status_code == 200 and account.json()["flagged"] is True
        assert "退保" in httpx.get(f"{base}/", params={"q": "退保"}).text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0

    search = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "search", "--config", str(toml), "--json", "征信"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert search.returncode == 0, search.stderr
    results = json.loads(search.stdout)["results"]
    assert results and all(r["key"] in BLACK_MARKET for r in results)
