"""POST /api/ingest: bearer tokens per source, size limits, per-line errors, the queue."""

import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from collectors.ingest import IngestSourceSettings, parse_batch
from dashboards.app import create_app
from detectors import Detector
from pipeline.config import load_settings
from pipeline.models import Post, Reject, SearchQuery
from pipeline.runner import Runner
from pipeline.store.sqlite import SqliteStore

TZ = ZoneInfo("Asia/Shanghai")
TOKEN_A = "ingest-token-aaaaaaaa"
TOKEN_B = "ingest-token-bbbbbbbb"


def record(i: int, **extra) -> dict:
    return {"id": f"v{i}", "text": f"第{i}条", "author_id": "u1", **extra}


def jsonl(*lines) -> bytes:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()


def test_jsonl_batches_report_bad_lines_by_number():
    body = jsonl(record(1), "{broken", "", {"id": "v3"}, record(4, created_at="2026-11-20 10:00"))
    posts, rejects = parse_batch(
        body, content_type="application/x-ndjson", source="v", platform="vendor", tz=TZ,
        max_text_chars=100,
    )  # fmt: skip
    assert [p.post_id for p in posts] == ["v1", "v4"]
    assert posts[0].platform == "vendor" and posts[0].source == "v"
    assert str(posts[1].created_at) == "2026-11-20 02:00:00+00:00"  # naive = source tz
    assert [(r.location, r.reason.split(":")[0]) for r in rejects] == [
        ("line 2", "broken JSON"),
        ("line 4", "missing `text`"),
    ]


def test_json_arrays_and_objects_with_posts():
    for body in (json.dumps([record(1), 7]), json.dumps({"posts": [record(1), 7]})):
        posts, rejects = parse_batch(
            body.encode(), content_type="application/json", source="v", platform="p", tz=TZ,
            max_text_chars=100,
        )  # fmt: skip
        assert [p.post_id for p in posts] == ["v1"]
        assert rejects[0].location == "item 2"
    with pytest.raises(ValueError, match="not JSON"):
        parse_batch(
            b"{nope", content_type="application/json", source="v", platform="p", tz=TZ,
            max_text_chars=100,
        )  # fmt: skip


class Hook:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Post], list[Reject]]] = []

    async def __call__(self, name, posts, rejects) -> None:
        self.calls.append((name, posts, rejects))


@pytest.fixture
def sources(monkeypatch):
    monkeypatch.setenv("VENDOR_A_TOKEN", TOKEN_A)
    monkeypatch.setenv("VENDOR_B_TOKEN", TOKEN_B)
    return [
        IngestSourceSettings(name="vendor-a", token_env="VENDOR_A_TOKEN", platform="weibo"),
        IngestSourceSettings(
            name="vendor-b", token_env="VENDOR_B_TOKEN", max_batch_bytes=2000, max_batch_posts=3
        ),
        IngestSourceSettings(name="unset", token_env="NOT_SET_ANYWHERE"),
    ]


@pytest.fixture
async def api(tmp_path: Path, sources):
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    hook = Hook()
    app = create_app(store, ingest=hook, ingest_sources=sources, tz=TZ)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as client:
        yield client, hook
    await store.close()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}


async def test_the_token_picks_the_source_and_bad_lines_are_reported(api, caplog):
    client, hook = api
    caplog.set_level(logging.DEBUG)
    body = jsonl(record(1), "not json", record(3))
    response = await client.post("/api/ingest", content=body, headers=auth(TOKEN_A))
    assert response.status_code == 200
    answer = response.json()
    assert answer["source"] == "vendor-a"
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["errors"][0]["location"] == "line 2"
    ((name, posts, rejects),) = hook.calls
    assert name == "vendor-a" and [p.platform for p in posts] == ["weibo", "weibo"]
    assert len(rejects) == 1
    assert TOKEN_A not in caplog.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-xxxxxxx"},
        {"Authorization": f"Basic {TOKEN_A}"},
        {"Authorization": "Bearer "},
    ],
)
async def test_requests_without_a_valid_bearer_token_are_refused(api, headers):
    client, hook = api
    response = await client.post("/api/ingest", content=jsonl(record(1)), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert hook.calls == []


async def test_size_limits_per_source(api):
    client, hook = api
    big = jsonl(*[record(i, text="长" * 300) for i in range(10)])
    response = await client.post("/api/ingest", content=big, headers=auth(TOKEN_B))
    assert response.status_code == 413
    many = jsonl(*[record(i) for i in range(4)])
    response = await client.post("/api/ingest", content=many, headers=auth(TOKEN_B))
    assert response.status_code == 413 and "at most 3" in response.json()["error"]
    assert hook.calls == []


async def test_a_json_body_that_is_not_json_is_a_400(api):
    client, _ = api
    headers = {**auth(TOKEN_A), "Content-Type": "application/json"}
    response = await client.post("/api/ingest", content=b"{oops", headers=headers)
    assert response.status_code == 400


async def test_no_ingest_sources_means_no_endpoint(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite3")
    await store.open()
    app = create_app(store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as client:
        response = await client.post("/api/ingest", content=b"{}")
    await store.close()
    assert response.status_code in (404, 405)


async def test_pushed_posts_flow_through_the_runner_into_the_store(tmp_path, sources):
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    runner = Runner(settings, store, Detector(), sources[:1])
    await runner.start(schedule=False)
    app = create_app(store, ingest=runner.ingest, ingest_sources=sources[:1], tz=TZ)
    transport = httpx.ASGITransport(app=app)
    ad = "专业代理全额退保，不成功不收费，加威信 tuibao_8866 私聊"
    body = jsonl(record(1, text=ad), record(2), "{bad")
    async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as client:
        response = await client.post("/api/ingest", content=body, headers=auth(TOKEN_A))
    assert response.json()["accepted"] == 2
    await runner.stop()
    assert await store.count_posts() == 2
    flagged = await store.search(SearchQuery())
    assert [hit.post.post_id for hit in flagged.results] == ["v1"]
    state = await store.get_checkpoint("vendor-a")
    assert state is not None and state.posts_total == 2 and state.bad_records == 1
    assert runner.health["vendor-a"].state() == "healthy"
    # Stopped: the endpoint says so instead of dropping posts.
    async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as client:
        response = await client.post("/api/ingest", content=body, headers=auth(TOKEN_A))
    assert response.status_code == 503
    await store.close()
