"""RSSHub: RSS 2.0 and JSON Feed parsing, author ids from links, incremental runs."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest

from collectors.base import CollectorContext
from collectors.http import RiskControlError, ShapeError, build_client
from collectors.rsshub import (
    RsshubCollector,
    RsshubSourceSettings,
    author_id_from_link,
    parse_json_feed,
    parse_rss,
    platform_of,
)

FIXTURES = Path(__file__).parent / "fixtures" / "rsshub"
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def rss(name: str, route: str, **kw):
    posts, cursor = parse_rss(
        (FIXTURES / name).read_bytes(), route=route, source="rh", max_text_chars=1000, now=NOW, **kw
    )
    assert cursor is None
    return posts


def test_weibo_user_route_gives_uid_name_bio_and_clean_text():
    first, second = rss("weibo_user.xml", "/weibo/user/1195230310")
    assert first.platform == "weibo"
    assert first.post_id == "P1a2b3c4d"
    assert first.author_id == "1195230310"
    assert first.author_name == "退保小助手"
    assert first.author_bio == "专业咨询保险退保，vx: tb_8866"  # "Powered by RSSHub" dropped
    assert first.text == "全额退保，不成功不收费！\n\n加#退保# 威信 tb_8866 [doge]"
    assert first.url == "https://weibo.com/1195230310/P1a2b3c4d"
    assert first.created_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert first.created_raw == "Fri, 20 Nov 2026 10:00:00 GMT"
    # +0800 pubDates are normalised to UTC.
    assert second.created_at == datetime(2026, 11, 19, 0, 30, tzinfo=UTC)


def test_forum_route_keeps_the_poster_name_without_inventing_a_bio():
    (post,) = rss("tieba_forum.xml", "/baidu/tieba/forum/退保")
    assert (post.platform, post.post_id) == ("tieba", "8888888888")
    assert post.author_name == "小明爱吃饭"  # dc:creator
    assert post.author_id is None and post.author_bio is None
    assert post.text == "有没有人退保成功的\n买了三年的保险想退，求经验"


@pytest.mark.parametrize(
    ("name", "route", "platform", "post_id", "author_id", "author_name"),
    [
        (
            "zhihu_people.xml",
            "/zhihu/people/activities/zhengxin-li",
            "zhihu",
            "987654321",
            "zhengxin-li",
            "征信修复李老师",
        ),
        (
            "xhs_user.xml",
            "/xiaohongshu/user/5d2c8b7e000000001101a2b3/notes",
            "xiaohongshu",
            "64f1a2b3000000001f03c4d5",
            "5d2c8b7e000000001101a2b3",
            "保险避坑指南",
        ),
    ],
)
def test_user_routes_of_other_platforms(name, route, platform, post_id, author_id, author_name):
    (post,) = rss(name, route)
    assert (post.platform, post.post_id, post.author_id, post.author_name) == (
        platform,
        post_id,
        author_id,
        author_name,
    )


def test_json_feed_with_rfc1123_and_iso_dates_and_authors():
    posts, _ = parse_json_feed(
        (FIXTURES / "douyin_user.json").read_bytes(),
        route="/douyin/user/MS4wLjABAAAAx9Yk-abc_DEF",
        source="rh",
        max_text_chars=1000,
        now=NOW,
    )
    assert [p.post_id for p in posts] == ["7444812884750001472", "7444812884750001999"]
    first, second = posts
    assert first.author_id == "MS4wLjABAAAAx9Yk-abc_DEF"
    assert first.author_name == "债务规划师老王"
    assert first.author_bio == "停息挂账 个性化分期 私信咨询"
    assert first.created_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert second.created_at == datetime(2026, 11, 19, 4, 0, tzinfo=UTC)
    assert second.text == "第二条视频"


@pytest.mark.parametrize(
    ("platform", "link", "expected"),
    [
        ("weibo", "https://weibo.com/u/1195230310", "1195230310"),
        ("weibo", "https://m.weibo.cn/profile/1195230310", "1195230310"),
        ("douyin", "https://www.douyin.com/user/MS4wLjABAAAA-x_y", "MS4wLjABAAAA-x_y"),
        ("kuaishou", "https://www.kuaishou.com/profile/3xabc123", "3xabc123"),
        ("tieba", "https://tieba.baidu.com/home/main?un=%E5%B0%8F%E6%98%8E", "小明"),
        ("bilibili", "https://space.bilibili.com/946974", "946974"),
        ("zhihu", "https://www.zhihu.com/question/1", None),
    ],
)
def test_author_ids_from_profile_links(platform, link, expected):
    assert author_id_from_link(platform, link) == expected


def test_platform_from_route_then_link():
    assert platform_of("/kuaishou/profile/3xabc") == "kuaishou"
    assert platform_of("/custom/feed", "https://www.douyin.com/video/1") == "douyin"
    assert platform_of("/custom/feed", "https://example.com/") is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>503 Service Unavailable</body></html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>cut',
        b'{"version": "json feed by mistake"}',
    ],
)
def test_bodies_that_are_not_rss_are_shape_errors(body):
    with pytest.raises(ShapeError):
        parse_rss(body, route="/weibo/user/1", source="rh", max_text_chars=100, now=NOW)


def test_entity_expansion_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss><channel><title>&lol2;</title>'
        b"</channel></rss>"
    )
    with pytest.raises(ShapeError, match="unsafe XML"):
        parse_rss(bomb, route="/x", source="rh", max_text_chars=100, now=NOW)


def test_json_feed_that_is_html_is_a_shape_error():
    with pytest.raises(ShapeError, match="HTML"):
        parse_json_feed(b"<html>blocked</html>", route="/x", source="rh", max_text_chars=1, now=NOW)


# -- the collector, on a mock transport --------------------------------------------------


def feed_xml(items: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{text}</title><link>https://weibo.com/1195230310/{bid}</link>"
        f"<guid>https://weibo.com/1195230310/{bid}</guid></item>"
        for bid, text in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>某某的微博</title>'
        f"<link>https://weibo.com/1195230310/</link>{body}</channel></rss>"
    ).encode()


async def collect(collector, cursor):
    pages = [page async for page in collector.fetch(cursor)]
    posts = [post for page in pages for post in page.posts]
    return posts, pages[-1].cursor if pages else cursor, pages


async def test_collector_hands_on_only_new_items_and_sends_the_access_key(monkeypatch):
    monkeypatch.setenv("RSSHUB_KEY", "rsshub-access-key-1")
    served = [feed_xml([("B2", "二"), ("B1", "一")])]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=served[0])

    settings = RsshubSourceSettings(
        name="rh",
        routes=["/weibo/user/1195230310"],
        base_url="http://rsshub.test",
        token_env="RSSHUB_KEY",
        rate_per_second=0,
    )
    context = CollectorContext(
        tz=ZoneInfo("Asia/Shanghai"),
        client_for=lambda s, default: build_client(
            s, default_base_url=default, transport=httpx.MockTransport(handler)
        ),
    )
    collector = RsshubCollector(settings, context)
    posts, cursor, _ = await collect(collector, None)
    assert [p.post_id for p in posts] == ["B2", "B1"]
    assert seen[0].url.params["key"] == "rsshub-access-key-1"
    assert seen[0].url.path == "/weibo/user/1195230310"

    served[0] = feed_xml([("B3", "三"), ("B2", "二"), ("B1", "一")])
    posts, cursor, _ = await collect(collector, cursor)
    assert [p.post_id for p in posts] == ["B3"]
    posts, _, _ = await collect(collector, cursor)
    assert posts == []
    assert isinstance(msgspec.json.decode(cursor), dict)
    await collector.aclose()


async def test_a_broken_route_is_a_reject_and_the_other_routes_go_on():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/bad"):
            return httpx.Response(200, text="<html>upstream blocked</html>")
        return httpx.Response(200, content=feed_xml([("B1", "一")]))

    settings = RsshubSourceSettings(
        name="rh", routes=["/bad/route", "/weibo/user/1195230310"], rate_per_second=0
    )
    context = CollectorContext(
        tz=ZoneInfo("Asia/Shanghai"),
        client_for=lambda s, d: build_client(
            s, default_base_url=d, transport=httpx.MockTransport(handler)
        ),
    )
    collector = RsshubCollector(settings, context)
    posts, _, pages = await collect(collector, None)
    assert [p.post_id for p in posts] == ["B1"]
    rejects = [r for page in pages for r in page.rejects]
    assert len(rejects) == 1 and "not an RSS 2.0 feed" in rejects[0].reason
    assert "upstream blocked" in rejects[0].sample


@pytest.mark.parametrize(
    ("status", "page"),
    [
        (503, "Error: Request failed with status code 461"),
        (503, '{"status_code": 2483, "verify_check": true}'),
        (500, "<html>请完成验证码</html>"),
    ],
)
async def test_upstream_risk_control_behind_rsshub_cools_the_source_down(status, page):
    settings = RsshubSourceSettings(
        name="rh", routes=["/xiaohongshu/user/5d2c/notes"], rate_per_second=0, retries=0
    )
    context = CollectorContext(
        tz=ZoneInfo("Asia/Shanghai"),
        client_for=lambda s, d: build_client(
            s,
            default_base_url=d,
            transport=httpx.MockTransport(lambda request: httpx.Response(status, text=page)),
        ),
    )
    with pytest.raises(RiskControlError):
        await collect(RsshubCollector(settings, context), None)


async def test_other_rsshub_errors_fail_the_run_plainly():
    settings = RsshubSourceSettings(name="rh", routes=["/nope"], rate_per_second=0, retries=0)
    context = CollectorContext(
        tz=ZoneInfo("Asia/Shanghai"),
        client_for=lambda s, d: build_client(
            s,
            default_base_url=d,
            transport=httpx.MockTransport(
                lambda request: httpx.Response(404, text="route not found")
            ),
        ),
    )
    with pytest.raises(httpx.HTTPStatusError):
        await collect(RsshubCollector(settings, context), None)
