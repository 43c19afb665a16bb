"""The 运行状态 page: each source's health in zh, from the runner's status."""

from __future__ import annotations

import httpx
from dash_fakes import FakeStore, seed

from dashboards.app import create_app

STATUS = {
    "counters": {"collected": 120, "flagged": 30, "written": 118, "rejected": 2},
    "detector_version": "lexicon-abc",
    "sources": [
        {
            "name": "weibo-search",
            "kind": "weibo",
            "state": "cooling",
            "cooldown_until": "2026-11-21T04:00:00+00:00",
            "last_success": None,
            "last_error": "risk control: HTTP 432",
            "posts_last_hour": 0,
            "posts_last_day": 40,
            "posts_total": 90,
            "bad_records": 0,
            "events": ["432 → 冷却 600s"],
        },
        {
            "name": "drop",
            "kind": "files",
            "state": "healthy",
            "running": True,
            "last_success": "2026-11-21T03:00:00+00:00",
            "posts_last_hour": 12,
            "posts_last_day": 80,
            "posts_total": 80,
            "bad_records": 2,
            "events": [],
        },
        {
            "name": "<script>x</script>",
            "kind": "files",
            "state": "failing",
            "last_error": "<img src=x onerror=alert(1)>",
        },
    ],
}


async def client_for(status: dict | None):
    store = FakeStore()
    await seed(store)

    async def provider() -> dict:
        if status is None:
            raise RuntimeError("runner gone")
        return status

    app = create_app(store, status_provider=provider)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://radar.test")


async def test_sources_page_shows_each_state_in_zh_with_shanghai_times():
    async with await client_for(STATUS) as client:
        page = (await client.get("/sources")).text
    assert "冷却中，至 2026-11-21 12:00" in page  # 04:00 UTC is noon in Shanghai
    assert "risk control: HTTP 432" in page
    assert "2026-11-21 11:00" in page and "(采集中)" in page
    assert "失败" in page and "正常" in page
    assert "已收集 <b>120</b>" in page and "坏记录 <b>2</b>" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page


async def test_search_strip_uses_zh_counter_labels_and_links_to_sources():
    async with await client_for(STATUS) as client:
        page = (await client.get("/")).text
    assert "已入库 <b>118</b>" in page
    assert 'href="/sources"' in page
    assert "counters" not in page


async def test_sources_page_survives_a_failing_runner_status():
    async with await client_for(None) as client:
        response = await client.get("/sources")
    assert response.status_code == 200
    assert "运行状态不可用" in response.text
