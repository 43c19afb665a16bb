"""Weibo getIndex parsing on recorded response shapes (invented content, real shapes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from collectors.http import RiskControlError, ShapeError
from collectors.weibo import (
    check_response,
    parse_getindex,
    parse_getindex_page,
    parse_long_text,
    parse_profile,
)

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_timeline_page_maps_posts_authors_times_counts_and_cursor():
    page = parse_getindex_page(load("timeline_p1.json"), now=NOW, source="wb")
    assert [e.post.post_id for e in page.entries] == [
        "5100000000000001",
        "5230000000000500",
        "5230000000000400",
    ]
    assert page.next == "5230000000000300"
    pinned, first, second = page.entries
    assert pinned.pinned and not first.pinned and not second.pinned
    post = first.post
    assert post.platform == "weibo" and post.source == "wb"
    assert post.text == "信用卡逾期别慌，@某某 帮你谈停息挂账 #停息挂账#[doge]"
    assert post.author_id == "7000000001" and post.author_name == "安心协商小助手"
    assert post.url == "https://m.weibo.cn/detail/5230000000000500"
    assert post.created_raw == "Fri Nov 20 22:15:07 +0800 2026"
    assert post.created_at == datetime(2026, 11, 20, 14, 15, 7, tzinfo=UTC)
    assert post.counts == {"reposts": 0, "comments": 1_000_000, "likes": 5}
    assert pinned.post.text == "【置顶】专业团队，全国可办&售后无忧\n详情看主页"
    assert pinned.post.counts == {"reposts": 3, "comments": 12, "likes": 12000}
    assert pinned.post.author_bio is None  # empty description is no bio
    assert second.post.text == "第二条 内容\n第二行"
    assert second.post.created_raw == "5分钟前"
    assert second.post.created_at == datetime(2026, 11, 20, 23, 55, tzinfo=UTC)
    assert second.post.counts["reposts"] == 35000


def test_public_parse_returns_posts_and_next_cursor():
    posts, cursor = parse_getindex(load("timeline_p2.json"), now=NOW)
    assert [p.created_raw for p in posts] == ["今天 08:00", "昨天 23:59", "11-01"]
    assert [p.created_at for p in posts] == [
        datetime(2026, 11, 21, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 15, 59, tzinfo=UTC),
        datetime(2026, 10, 31, 16, 0, tzinfo=UTC),
    ]
    assert cursor == "5230000000000100"
    posts, cursor = parse_getindex(load("timeline_p3.json"), now=NOW)
    assert posts[0].created_at == datetime(2025, 10, 31, 16, 0, tzinfo=UTC)
    assert cursor is None  # no since_id: the end of the timeline


def test_search_flattens_card_groups_keeps_bio_and_skips_broken_mblogs():
    page = parse_getindex_page(load("search_p1.json"), paging="page", now=NOW)
    assert [e.post.post_id for e in page.entries] == [
        "5230000000009001",
        "5230000000008000",
        "5230000000007000",
    ]
    assert page.entries[0].post.author_bio == "代理退保十年经验"
    assert page.entries[0].post.created_at == NOW  # 刚刚
    assert page.next == "2"
    assert page.skipped == ["mblog without a numeric id"]
    assert parse_getindex_page(load("search_p2.json"), paging="page", now=NOW).next is None


def test_end_of_feed_is_an_empty_page_not_an_error():
    page = parse_getindex_page(load("timeline_end.json"), now=NOW)
    assert page.entries == [] and page.next is None


@pytest.mark.parametrize(
    "body",
    [load("risk_ok.json"), b'{"ok": 0, "msg": "\\u8bf7\\u6c42\\u8fc7\\u4e8e\\u9891\\u7e41"}'],
)
def test_ok_not_one_is_risk_control(body):
    with pytest.raises(RiskControlError):
        parse_getindex_page(body, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>\xe8\xae\xbf\xe5\xae\xa2\xe9\xaa\x8c\xe8\xaf\x81</body></html>",
        b'{"ok": 1, "data": {"cards": [',
        b'{"ok": 1, "data": {}}',
        b'{"ok": 1, "data": {"cards": "nope"}}',
        b"[1, 2]",
        b"",
    ],
)
def test_malformed_bodies_are_shape_errors(body):
    with pytest.raises(ShapeError):
        parse_getindex_page(body, now=NOW)


def test_profile_gives_bio():
    assert parse_profile(load("profile.json")) == (
        "7000000001",
        "安心协商小助手",
        "专注个性化分期协商 咨询 V：anxin_2026",
    )


def _response(
    status: int, url: str = "https://m.weibo.cn/api/container/getIndex"
) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", url), content=b"{}")


def test_http_432_and_passport_redirect_are_risk_control():
    for status in (432, 403, 418):
        with pytest.raises(RiskControlError) as caught:
            check_response(_response(status))
        assert caught.value.status == status
    with pytest.raises(RiskControlError):
        check_response(_response(200, "https://passport.weibo.com/visitor/visitor?a=1"))
    with pytest.raises(ShapeError):
        check_response(_response(404))
    check_response(_response(200))


def test_long_posts_are_marked_partial_and_extend_gives_the_full_text():
    page = parse_getindex_page(load("timeline_p2.json"), now=NOW)
    assert [e.partial for e in page.entries] == [False, True, False]
    assert page.entries[1].post.text == "第四条：很长的一段话...全文"
    assert (
        parse_long_text(load("extend.json"))
        == "第四条：很长的一段话，\n最后才写联系方式：VX anxin_2026"
    )
    with pytest.raises(ShapeError):
        parse_long_text(b'{"ok": 1, "data": {}}')


def test_picture_only_mblog_is_skipped_by_name():
    body = {
        "ok": 1,
        "data": {"cards": [{"card_type": 9, "mblog": {"id": "12", "text": "<img src=x>"}}]},
    }
    page = parse_getindex_page(body, now=NOW)
    assert page.entries == [] and page.skipped == ["mblog 12 has no text (picture or video only)"]


def test_repost_carries_its_original_as_the_original_authors_post():
    page = parse_getindex_page(load("repost.json"), now=NOW)
    repost, deleted = page.entries
    assert repost.post.text == "转发微博 //@退保顾问:看这里"
    [original] = repost.attached
    assert original.post_id == "5210000000000001"
    assert original.author_id == "7000000099" and original.author_bio == "十年退保经验"
    assert original.text == "全额退保，加V：tb_2026" and original.counts["reposts"] == 12000
    assert deleted.attached == []  # deleted originals are left out
