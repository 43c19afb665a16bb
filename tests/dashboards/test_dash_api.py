"""The JSON API and the headers every response carries."""

from __future__ import annotations

import httpx
import pytest

from dashboards.security import CONTENT_SECURITY_POLICY


async def test_search_api_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/search", params={"q": "tb8888"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["total"] == 1
    assert body["facets"]["category"] == {"surrender": 1}
    (hit,) = body["results"]
    assert hit["key"] == "weibo:p1"
    assert hit["platform"] == "weibo"
    assert hit["post_id"] == "p1"
    assert hit["author_id"] == "u1"
    assert hit["author_name"] == "退保小助手"
    assert hit["url"] == "https://weibo.example/p1"
    assert hit["created_at"] == "2024-05-01T02:00:00Z"
    assert hit["status"] == "new"
    verdict = hit["verdict"]
    assert set(verdict) == {"flagged", "score", "categories", "evidence", "contacts", "reasons"}
    assert verdict["flagged"] is True
    assert verdict["score"] == 0.9
    assert verdict["evidence"][0] == {
        "start": 2,
        "end": 6,
        "text": "全额退保",
        "feature": "surrender_phrase",
    }
    assert verdict["contacts"][0]["value"] == "tb8888"
    assert {"text": "tb8888", "mark": "contact.wechat"} in hit["highlight"]
    assert "".join(f["text"] for f in hit["highlight"]) == hit["text"]


async def test_search_api_filters_reach_the_store(client: httpx.AsyncClient, store) -> None:
    r = await client.get(
        "/api/search",
        params={"category": "debt", "since": "2024-05-03", "min_score": "0.7", "page_size": "5"},
    )
    assert r.status_code == 200
    assert [h["key"] for h in r.json()["results"]] == ["douyin:p2"]
    query = store.queries[-1]
    assert (query.category, query.min_score, query.page_size) == ("debt", 0.7, 5)
    assert query.since.isoformat() == "2024-05-02T16:00:00+00:00"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"min_score": "high"}, "min_score"),
        ({"since": "2024-02-30"}, "since"),
        ({"until": "not-a-date"}, "until"),
        ({"category": "scam"}, "category"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"status": "whatever"}, "status"),
    ],
)
async def test_bad_params_are_422_json_one_line(
    client: httpx.AsyncClient, params: dict[str, str], param: str
) -> None:
    r = await client.get("/api/search", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/json"
    assert "\n" not in r.text
    body = r.json()
    assert set(body) == {"error", "param"}
    assert body["param"] == param
    assert body["error"]


async def test_account_api(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/accounts/weibo/u1")
    assert r.status_code == 200
    body = r.json()
    assert "post_scores" not in body
    assert body["key"] == "weibo:u1"
    assert body["nickname"] == "退保小助手"
    assert body["score"] == 0.92
    assert body["flagged"] is True
    assert body["ring"] == "ring-1"
    assert body["ring_size"] == 2
    assert body["ring_contacts"] == ["wx:tb8888"]
    assert body["ring_members"] == ["douyin:u9"]
    assert body["contacts"] == ["wx:tb8888"]
    assert body["sharing"] == ["douyin:u9"]
    assert [p["key"] for p in body["recent_posts"]] == ["weibo:p1"]
    assert body["recent_posts"][0]["highlight"]


async def test_account_api_without_a_ring(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/accounts/weibo/evil")).json()
    assert (body["ring"], body["ring_size"], body["ring_contacts"], body["ring_members"]) == (
        None,
        None,
        [],
        [],
    )


async def test_account_api_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/accounts/weibo/nobody")
    assert r.status_code == 404
    assert r.json() == {"error": "account not found"}
    r = await client.get("/api/nothing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"


async def test_status_and_health(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/status")).json()
    assert body["store"]["posts"] == 4
    assert body["store"]["by_platform"] == {"weibo": 3, "douyin": 1}
    assert body["sources"] == [{"name": "weibo-sample", "posts_total": 4}]
    assert body["runner"] == {"running": True, "queues": {"detect": 3, "store": 0}}
    r = await client.get("/healthz")
    assert (r.status_code, r.text) == (200, "ok")


async def test_interactive_docs_are_off(client: httpx.AsyncClient) -> None:
    # FastAPI's docs pages load scripts from a CDN, which the CSP (and no internet) forbid.
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?min_score=x",
        "/accounts/weibo/u1",
        "/accounts/x/y",
        "/api/search",
        "/api/search?page=0",
        "/api/status",
        "/healthz",
        "/static/radar.css",
        "/static/radar.js",
    ],
)
async def test_security_headers_everywhere(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/radar.css")
    assert css.status_code == 200
    assert "Noto Sans CJK SC" in css.text
    js = await client.get("/static/radar.js")
    assert js.status_code == 200
    assert "/api/search" in js.text
    assert "innerHTML" not in js.text


async def test_account_api_carries_weak_links_and_template_peers(store) -> None:
    import httpx

    from dashboards.app import create_app
    from pipeline.models import AccountRisk

    await store.write_batch(
        [],
        [
            AccountRisk(
                platform="weibo",
                account_id="w",
                flagged=True,
                ring="ring-1",
                post_scores={"weibo:t": 0.9},
                templates={"weibo:t": "全额退保不成功不收费"},
                mentions=["退保小助手 推荐"],
                ring_weak=["mention:weibo:u1", "template:douyin:u9"],
                template_peers=["douyin:u9"],
            )
        ],
    )
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        body = (await c.get("/api/accounts/weibo/w")).json()
    assert body["ring_weak"] == ["mention:weibo:u1", "template:douyin:u9"]
    assert body["template_peers"] == ["douyin:u9"]
    assert "templates" not in body and "mentions" not in body and "post_scores" not in body


async def test_account_api_of_a_strong_member_has_empty_weak_fields(client) -> None:
    body = (await client.get("/api/accounts/weibo/u1")).json()
    assert (body["ring_weak"], body["template_peers"]) == ([], [])
