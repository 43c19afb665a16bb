"""The scheduled monitor: a failing source does not stop the others, and secrets stay out
of logs, errors, the status API and the stored rejects."""

import asyncio
import logging
import socket

import httpx
import msgspec
import pytest
from collect_server import Reply, Seen, json_reply, serving

from collectors.jsonapi import JsonApiSourceSettings
from collectors.rsshub import RsshubSourceSettings
from dashboards.app import create_app
from detectors import Detector
from pipeline.config import load_settings
from pipeline.runner import Runner

pytestmark = pytest.mark.integration

COOKIE = "SESSDATA=cookie-secret-9f8e7d6c; bili_jct=csrf-secret-1a2b3c"
TOKEN = "rsshub-key-secret-5566"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vendor(base: str, name: str, **overrides) -> JsonApiSourceSettings:
    raw = {
        "kind": "jsonapi",
        "name": name,
        "base_url": base,
        "url": "/feed",
        "items": "data",
        "fields": {"id": "id", "text": "text"},
        "order": "none",
        "rate_per_second": 0,
        "retries": 0,
        "timeout_seconds": 1,
        "interval_seconds": 0.2,
        **overrides,
    }
    return msgspec.convert(raw, JsonApiSourceSettings)


async def test_the_scheduler_keeps_healthy_sources_running_while_one_fails(tmp_path, store, caplog):
    counter = {"n": 0}

    def growing(seen: Seen) -> Reply:
        if seen.path != "/feed":
            return Reply(status=404, body=b"not found")
        counter["n"] += 1  # a new post on every request
        return json_reply({"data": [{"id": i, "text": f"帖子{i}"} for i in range(counter["n"])]})

    caplog.set_level(logging.WARNING, logger="radar.runner")
    with serving(growing) as server:
        good = vendor(server.url, "good")
        dead = vendor(f"http://127.0.0.1:{closed_port()}", "dead")
        broken = vendor(server.url, "broken", url="/missing")
        settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
        runner = Runner(settings, store, Detector(), [good, dead, broken])
        await runner.start()
        await asyncio.sleep(2.0)
        await runner.stop()
    health = runner.health
    assert health["good"].runs >= 4 and health["good"].state() == "healthy"
    assert await store.count_posts() >= 4
    for name in ("dead", "broken"):
        assert health[name].runs >= 4, name
        assert health[name].state() == "failing"
    assert "ConnectError" in health["dead"].last_error
    failed_logs = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    # One warning per failing episode, not one per tick.
    assert sum("source dead" in m for m in failed_logs) == 1
    assert sum("source broken" in m for m in failed_logs) == 1


async def test_secrets_never_reach_logs_errors_status_or_rejects(
    tmp_path, store, monkeypatch, caplog
):
    monkeypatch.setenv("TEST_COOKIE", COOKIE)
    monkeypatch.setenv("TEST_RSSHUB_KEY", TOKEN)
    got: list[Seen] = []

    def route(seen: Seen) -> Reply:
        got.append(seen)
        if seen.path == "/weibo/user/1":
            return Reply(status=404, body=b"<html>no such route</html>", content_type="text/html")
        return Reply(body=f"<html>echo {seen.headers.get('cookie')}</html>".encode())

    caplog.set_level(logging.DEBUG)
    with serving(route) as server:
        feeds = RsshubSourceSettings(
            name="feeds",
            base_url=server.url,
            routes=["/weibo/user/1", "/douyin/user/2"],
            token_env="TEST_RSSHUB_KEY",
            cookie_env="TEST_COOKIE",
            rate_per_second=0,
            retries=0,
        )
        settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
        runner = Runner(settings, store, Detector(), [feeds])
        await runner.start(schedule=False)
        await runner.collect_once("feeds")
        app = create_app(store, status_provider=runner.status_async)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as client:
            status_text = (await client.get("/api/status")).text
            page_text = (await client.get("/")).text
        await runner.stop()
    # The secrets did go where they belong...
    assert got[0].params["key"] == TOKEN and got[0].headers["cookie"] == COOKIE
    # ...and nowhere else.
    rejects = store.path.read_bytes()  # the whole database file, rejects included
    error = runner.health["feeds"].last_error or ""
    assert "404" in error
    for secret in ("cookie-secret-9f8e7d6c", "csrf-secret-1a2b3c", TOKEN):
        assert secret not in caplog.text
        assert secret not in error
        assert secret not in status_text
        assert secret not in page_text
        assert secret.encode() not in rejects
