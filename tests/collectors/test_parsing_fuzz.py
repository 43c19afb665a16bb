"""Hostile bodies: every platform parser either returns posts or raises ShapeError /
RiskControlError (or ArticleGone for WeChat) — never anything else, never a bad post."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.bilibili_parse import parse_dynamics_page, parse_search_page, parse_view_detail
from collectors.http import RiskControlError, ShapeError
from collectors.wechat import ArticleGone, parse_article
from collectors.weibo import parse_getindex_page, parse_long_text, parse_profile
from collectors.zhihu import parse_member_page

NOW = datetime(2026, 11, 21, tzinfo=UTC)
KEYS = [
    "ok", "msg", "data", "cards", "card_group", "mblog", "id", "idstr", "text", "user",
    "screen_name", "description", "created_at", "cardlistInfo", "since_id", "page",
    "mblogtype", "isLongText", "longTextContent", "userInfo", "code", "message", "result",
    "bvid", "aid", "mid", "title", "pubdate", "numPages", "items", "id_str", "modules",
    "module_author", "module_dynamic", "desc", "major", "opus", "summary", "pub_ts",
    "module_tag", "has_more", "offset", "paging", "is_end", "next", "error", "content",
    "excerpt", "created_time", "author", "url_token", "View", "Card", "card", "sign",
    "owner", "stat", "v_voucher", "type", "play", "reposts_count",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["1.2万", "刚刚", "置顶", "5230000000000500", "", "<br>", "0", "-352"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    ),
    max_leaves=40,
)
ALLOWED = (ShapeError, RiskControlError)
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_posts(posts) -> None:
    for post in posts:
        assert post.post_id and post.text
        assert post.created_at is None or post.created_at.utcoffset().total_seconds() == 0


def parsers():
    yield lambda body: check_posts(parse_getindex_page(body, now=NOW).posts)
    yield lambda body: check_posts(parse_getindex_page(body, paging="page", now=NOW).posts)
    yield lambda body: parse_profile(body)
    yield lambda body: parse_long_text(body)
    yield lambda body: check_posts(parse_search_page(body, now=NOW).posts)
    yield lambda body: check_posts(parse_dynamics_page(body, now=NOW).posts)
    yield lambda body: check_posts(parse_view_detail(body, now=NOW)[0])
    yield lambda body: check_posts(parse_member_page(body, "answers", now=NOW).posts)
    yield lambda body: check_posts(parse_member_page(body, "articles", now=NOW).posts)


@FUZZ
@given(JSON)
def test_json_parsers_only_raise_their_own_errors(value):
    encoded = msgspec.json.encode(value)
    for parse in parsers():
        for body in (value, encoded, encoded[: len(encoded) // 2]):
            if not isinstance(body, bytes | dict):
                continue
            with contextlib.suppress(*ALLOWED):
                parse(body)


TAGS = [
    "<div id='js_content'>", "<p>", "</p>", "<br>", "</div>", "<script>", "</script>",
    "<span class='profile_meta_value'>", "</span>", 'var ct = "1";', "&amp;", "&#0;",
    "<!--", "-->", "<style>", "<", ">", "'", '"', "文字", "\n", "<h1 id='activity-name'>",
]  # fmt: skip


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(TAGS), st.text(max_size=5)), max_size=60))
def test_article_parser_survives_tag_soup(parts):
    try:
        posts, _ = parse_article("".join(parts).encode(), "https://mp.weixin.qq.com/s/x", now=NOW)
    except (*ALLOWED, ArticleGone):
        return
    check_posts(posts)
