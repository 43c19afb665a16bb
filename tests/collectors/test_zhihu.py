"""Zhihu members' answers and articles parsing on recorded response shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.http import RiskControlError, ShapeError
from collectors.zhihu import next_path, parse_answers, parse_articles, parse_member_page

FIXTURES = Path(__file__).parent / "fixtures" / "zhihu"
NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_answers_map_text_author_bio_time_counts_url_and_next_path():
    page = parse_member_page(load("answers_p1.json"), "answers", now=NOW, source="zh")
    assert [e.post.post_id for e in page.entries] == [
        "answer/3300000000000003",
        "answer/3300000000000002",
    ]
    assert page.next == (
        "/api/v4/members/anxin-guihua/answers?include=data%5B%2A%5D.content"
        "&offset=2&limit=2&sort_by=created"
    )
    post = page.entries[0].post
    assert (
        post.text
        == "可以的。停息挂账需要准备材料&流程如下：\n\n1. 收入证明\n2. 困难证明\n\n不懂的私信我。"
    )
    assert post.author_id == "anxin-guihua" and post.author_name == "安心规划师"
    assert post.author_bio == "专注债务优化十年 | 私信免费评估"
    assert post.url == "https://www.zhihu.com/question/600000001/answer/3300000000000003"
    assert post.created_raw == "1763640000"
    assert post.created_at == datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
    assert post.counts == {"likes": 1234, "comments": 12000}
    assert page.entries[0].key == [1763640000, 3300000000000003]
    assert page.entries[1].post.text == "只有摘要的回答"  # excerpt when content is missing


def test_last_page_ends_and_broken_items_are_skipped_by_name():
    page = parse_member_page(load("answers_p2.json"), "answers", now=NOW)
    assert [e.post.post_id for e in page.entries] == ["answer/3300000000000001"]
    assert page.next is None  # is_end wins over a present `next`
    assert page.skipped == ["answer without a numeric id"]
    posts, cursor = parse_answers(load("answers_p2.json"), now=NOW)
    assert len(posts) == 1 and cursor is None


def test_articles_have_title_and_anonymous_authors_have_no_id():
    posts, cursor = parse_articles(load("articles_p1.json"), now=NOW)
    [post] = posts
    assert cursor is None
    assert post.post_id == "article/700000001"
    assert post.text == "2025 年最新停息挂账政策解读\n正文第一段\n\n正文第二段"
    assert post.url == "https://zhuanlan.zhihu.com/p/700000001"
    assert post.author_id is None and post.author_name == "匿名用户"
    assert post.author_bio is None


def test_risk_answers_raise_risk_control():
    with pytest.raises(RiskControlError, match="40362"):
        parse_member_page(load("risk_40362.json"))
    with pytest.raises(RiskControlError, match="challenge"):
        parse_member_page(load("challenge.html"))


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>maintenance</body></html>",
        b'{"data": [], "pag',
        b'{"data": {"x": 1}, "paging": {}}',
        b'{"paging": {"is_end": true}}',
        b'{"error": {"code": 404, "message": "\\u4e0d\\u5b58\\u5728"}}',
        b"[]",
    ],
)
def test_malformed_bodies_are_shape_errors(body):
    with pytest.raises(ShapeError):
        parse_member_page(body)


def test_next_path_never_leaves_the_members_api():
    assert next_path("https://www.zhihu.com/api/v4/members/x/answers?offset=20") == (
        "/api/v4/members/x/answers?offset=20"
    )
    assert next_path(None) is None and next_path("") is None
    with pytest.raises(ShapeError):
        next_path("https://evil.example/steal?cookie=1")
