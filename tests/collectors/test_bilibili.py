"""Bilibili search, view/detail and dynamics parsing on recorded response shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.bilibili_parse import (
    parse_dynamics,
    parse_dynamics_page,
    parse_search,
    parse_search_page,
    parse_view_detail,
)
from collectors.http import RiskControlError, ShapeError

FIXTURES = Path(__file__).parent / "fixtures" / "bilibili"
NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_search_maps_videos_strips_keyword_markup_and_pages():
    page = parse_search_page(load("search_p1.json"), now=NOW, source="bili")
    assert [e.post.post_id for e in page.entries] == ["BV1Ab411c7d3", "BV1Xy411z7w2"]
    assert page.next == "2"
    assert page.skipped == ["search result without bvid"]
    first = page.entries[0].post
    assert (
        first.text
        == "保险交了三年还能全额退保吗？&亲身经历\n想退保的私信我，专业团队协助\n全国可办"
    )
    assert first.author_id == "3000000001" and first.author_name == "退保小课堂"
    assert first.author_bio is None  # search results carry no bio
    assert first.url == "https://www.bilibili.com/video/BV1Ab411c7d3"
    assert first.created_raw == "1763640000"
    assert first.created_at == datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
    assert first.counts == {
        "views": 12034,
        "danmaku": 18,
        "comments": 7,
        "favorites": 40,
        "likes": 88,
    }
    assert page.entries[0].key == [1763640000, 1150000003]
    second = page.entries[1].post
    assert second.text == "银保监会提醒：警惕代理退保"  # "-" is Bilibili's empty description
    assert second.counts["views"] == 12000
    posts, cursor = parse_search(load("search_p2.json"), now=NOW)
    assert [p.post_id for p in posts] == ["BV1Qw411e7r1"] and cursor is None


def test_search_without_hits_is_an_empty_last_page():
    assert parse_search(load("search_empty.json")) == ([], None)


def test_view_detail_gives_the_author_bio():
    [post], cursor = parse_view_detail(load("view_detail.json"), now=NOW)
    assert cursor is None
    assert post.post_id == "BV1Ab411c7d3"
    assert post.author_bio == "专业退保 十年经验 V:tuibao_2026"
    assert post.author_id == "3000000001" and post.author_name == "退保小课堂"
    assert post.text.endswith("完整简介在这里")
    assert post.counts["comments"] == 7


def test_dynamics_pinned_first_text_from_every_major_and_offset():
    page = parse_dynamics_page(load("dynamics_p1.json"), now=NOW)
    ids = [e.post.post_id for e in page.entries]
    assert ids == ["1000000000000000001", "1100000000000000500", "1100000000000000300"]
    assert [e.pinned for e in page.entries] == [True, False, False]
    assert page.next == "1100000000000000300"
    opus = page.entries[1].post
    assert opus.text == "停息挂账名额\n本周还有三个名额<私信>"
    assert opus.url == "https://t.bilibili.com/1100000000000000500"
    assert opus.created_at == datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
    assert opus.counts == {"comments": 0, "reposts": 1, "likes": 2}
    assert page.entries[2].post.text == "新视频\n保险交了三年还能全额退保吗\n想退保的私信我"
    posts, cursor = parse_dynamics(load("dynamics_p2.json"), now=NOW)
    assert len(posts) == 2 and cursor is None  # has_more false
    forward = parse_dynamics_page(load("dynamics_p2.json"), now=NOW).entries[0]
    [original] = forward.attached
    assert original.post_id == "1090000000000000001" and original.author_id == "3000000099"
    assert original.text == "停息挂账找我"


@pytest.mark.parametrize("name", ["risk_352.json", "risk_412.json", "voucher.json"])
def test_risk_answers_raise_risk_control(name):
    with pytest.raises(RiskControlError):
        parse_search_page(load(name))
    with pytest.raises(RiskControlError):
        parse_dynamics_page(load(name))


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><title>412</title>",
        b'{"code": 0, "data": {"result": {"x": 1}}}',
        b'{"code": -400, "message": "\\u8bf7\\u6c42\\u9519\\u8bef", "data": null}',
        b'{"code": 0, "data": null}',
        b'{"message": "no code"}',
        b'{"code": 0, "data": {"res',
    ],
)
def test_malformed_bodies_are_shape_errors(body):
    with pytest.raises(ShapeError):
        parse_search_page(body)


def test_view_detail_without_view_is_a_shape_error():
    with pytest.raises(ShapeError):
        parse_view_detail(b'{"code": 0, "data": {"Card": {}}}')
