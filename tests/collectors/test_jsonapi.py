"""jsonapi: configured URL template, auth, paging rules, JMESPath mapping, recheck."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest

from collectors.base import CollectorContext
from collectors.http import RiskControlError, ShapeError, build_client
from collectors.jsonapi import JsonApiCollector, JsonApiSourceSettings, Mapping, parse_response

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
BASE = {
    "kind": "jsonapi",
    "name": "vendor",
    "base_url": "http://vendor.test",
    "url": "/v2/posts",
    "items": "data.list",
    "fields": {
        "id": "mid",
        "text": "content",
        "author_id": "user.id",
        "author_name": "user.name",
        "created_at": "ts",
        "url": "link",
    },
    "rate_per_second": 0,
}


def make_settings(**overrides) -> JsonApiSourceSettings:
    return msgspec.convert({**BASE, **overrides}, JsonApiSourceSettings)


def item(i: int, ts: int | None = None) -> dict:
    return {
        "mid": i,
        "content": f"<p>第{i}条</p>",
        "user": {"id": f"u{i % 3}", "name": f"用户{i % 3}"},
        "ts": ts if ts is not None else 1_763_700_000 + i * 60,
        "link": f"https://vendor.test/p/{i}",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"url": "/v2/{bogus}"}, "unknown placeholder {bogus}"),
        ({"fields": {"id": "mid"}}, "needs at least `id` and `text`"),
        ({"fields": {"id": "mid", "text": "a", "likes": "b"}}, "unknown post field 'likes'"),
        ({"items": "data.[["}, "invalid JMESPath"),
        ({"paging": "cursor"}, "next_cursor: needed"),
        ({"base_url": None}, "needs `base_url` or an absolute"),
    ],
)
def test_bad_settings_are_one_line_errors(overrides, message):
    with pytest.raises(
        msgspec.ValidationError, match=message.replace("{", r"\{").replace("[", r"\[")
    ):
        make_settings(**overrides)


def test_mapping_turns_items_into_posts_and_reports_skipped_ones():
    mapping = Mapping(make_settings(html=True, paging="page"))
    body = {"data": {"list": [item(1), {"mid": 2}, item(3, ts=None) | {"ts": None}]}}
    page, next_page = parse_response(
        msgspec.json.encode(body), mapping, source="vendor", page_cursor=None,
        max_text_chars=100, now=NOW,
    )  # fmt: skip
    (post,) = page.posts
    assert (post.post_id, post.text, post.author_id, post.author_name) == (
        "1",
        "第1条",
        "u1",
        "用户1",
    )
    assert post.created_at == datetime.fromtimestamp(1_763_700_060, UTC)
    assert post.created_raw == "1763700060"
    assert page.skipped == ["item 1: missing text", "item 2: no usable time to order by"]
    assert next_page == "2"


def test_risk_control_expression_and_bad_shapes():
    mapping = Mapping(make_settings(risk_control="code == `-412`"))
    with pytest.raises(RiskControlError):
        parse_response(
            {"code": -412, "data": {}}, mapping, source="v", page_cursor=None,
            max_text_chars=10, now=NOW,
        )  # fmt: skip
    with pytest.raises(ShapeError, match="not a list"):
        parse_response(
            {"data": {"list": {"a": 1}}}, mapping, source="v", page_cursor=None,
            max_text_chars=10, now=NOW,
        )  # fmt: skip
    with pytest.raises(ShapeError, match="HTML"):
        parse_response(
            b"<html>login</html>", mapping, source="v", page_cursor=None,
            max_text_chars=10, now=NOW,
        )  # fmt: skip


class Vendor:
    """A newest-first feed of ``total`` posts served by page, offset or cursor."""

    def __init__(self, total: int, per_page: int = 3) -> None:
        self.items = [item(i) for i in range(total, 0, -1)]
        self.per_page = per_page
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        if "page" in params:
            start = (int(params["page"]) - 1) * self.per_page
        elif "offset" in params:
            start = int(params["offset"])
        else:
            start = int(params.get("cursor", "0"))
        chunk = self.items[start : start + self.per_page]
        end = start + len(chunk)
        more = end < len(self.items)
        return httpx.Response(
            200, json={"data": {"list": chunk, "next": str(end) if more else None, "more": more}}
        )


def collector_for(settings: JsonApiSourceSettings, handler) -> JsonApiCollector:
    context = CollectorContext(
        tz=ZoneInfo("Asia/Shanghai"),
        client_for=lambda s, d: build_client(
            s, default_base_url=d, transport=httpx.MockTransport(handler)
        ),
    )
    return JsonApiCollector(settings, context)


async def run(collector, cursor, stop_after: int | None = None):
    posts, pages = [], 0
    async for page in collector.fetch(cursor):
        posts += page.posts
        cursor = page.cursor
        pages += 1
        if stop_after is not None and pages == stop_after:
            break
    return [int(p.post_id) for p in posts], cursor


@pytest.mark.parametrize(
    ("paging", "params"),
    [
        ("page", {"page": "{page}", "size": "{page_size}"}),
        ("offset", {"offset": "{offset}", "size": "{page_size}"}),
        ("cursor", {"cursor": "{cursor}", "size": "{page_size}"}),
    ],
)
async def test_each_paging_rule_walks_to_the_end_then_collects_only_new_posts(paging, params):
    vendor = Vendor(7)
    settings = make_settings(
        paging=paging, params=params, page_size=3, next_cursor="data.next", has_more="data.more"
    )
    collector = collector_for(settings, vendor)
    ids, cursor = await run(collector, None)
    assert ids == [7, 6, 5, 4, 3, 2, 1]
    vendor.items[:0] = [item(9), item(8)]
    ids, cursor = await run(collector, cursor)
    assert ids == [9, 8]
    ids, _ = await run(collector, cursor)
    assert ids == []


async def test_a_restart_between_pages_leaves_no_gap_and_no_duplicate():
    vendor = Vendor(7)
    settings = make_settings(
        paging="offset", params={"offset": "{offset}"}, page_size=3, has_more="data.more"
    )
    first, cursor = await run(collector_for(settings, vendor), None, stop_after=1)
    assert first == [7, 6, 5]
    # Meanwhile two new posts shift the offsets by two.
    vendor.items[:0] = [item(9), item(8)]
    rest, cursor = await run(collector_for(settings, vendor), cursor)
    later, _ = await run(collector_for(settings, vendor), cursor)
    collected = first + rest + later
    assert sorted(collected) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert len(collected) == len(set(collected))


async def test_token_goes_in_the_configured_header_from_the_environment(monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", "vendor-secret-1234")
    vendor = Vendor(2)
    settings = make_settings(token_env="VENDOR_TOKEN", auth_header="X-Api-Key", auth_prefix="")
    await run(collector_for(settings, vendor), None)
    assert vendor.requests[0].headers["x-api-key"] == "vendor-secret-1234"
    assert "vendor-secret-1234" not in str(vendor.requests[0].url)


async def test_queries_are_separate_feeds_with_the_query_in_the_url():
    vendor = Vendor(2)
    settings = make_settings(queries=["退保", "征信 修复"], params={"q": "{query}"})
    ids, cursor = await run(collector_for(settings, vendor), None)
    assert ids == [2, 1, 2, 1]  # the vendor answers every query with the same two posts
    assert [r.url.params["q"] for r in vendor.requests] == ["退保", "征信 修复"]
    assert set(msgspec.json.decode(cursor)) == {"q:退保", "q:征信 修复"}


async def test_risk_status_raises_for_the_runner_to_cool_down():
    settings = make_settings()
    collector = collector_for(settings, lambda request: httpx.Response(432))
    with pytest.raises(RiskControlError) as caught:
        await run(collector, None)
    assert caught.value.status == 432


async def test_check_account_answers_gone_present_or_unknown():
    def handler(request: httpx.Request) -> httpx.Response:
        account = request.url.path.rsplit("/", 1)[-1]
        if account == "deleted":
            return httpx.Response(404)
        return httpx.Response(200, json={"user": {"status": "banned" if account == "b" else "ok"}})

    settings = make_settings(
        platform="weibo", account_url="/users/{account_id}", account_gone="user.status == 'banned'"
    )
    collector = collector_for(settings, handler)
    assert await collector.check_account("weibo", "deleted") is True
    assert await collector.check_account("weibo", "b") is True
    assert await collector.check_account("weibo", "alive") is False
    assert await collector.check_account("douyin", "x") is None
