"""The shared parsing helpers: HTML to text, counts, and every platform time format."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from collectors.http import ShapeError
from collectors.parsing import (
    TimeFormatError,
    build_post,
    dig,
    from_unix,
    html_to_text,
    load_json,
    parse_count,
    parse_rfc1123,
    parse_weibo_time,
)

# 2026-11-21 08:00 in Beijing.
NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("第一行<br />第二行", "第一行\n第二行"),
        ("a<br>b<BR/>c", "a\nb\nc"),
        ("<p>段一</p><p>段二</p>", "段一\n\n段二"),
        ("全国可办&amp;售后&nbsp;&nbsp;无忧 &#x5FAE;&#20449;", "全国可办&售后 无忧 微信"),
        ("<a href='/n/x'>@某某</a> 你好", "@某某 你好"),
        ('<span class="url-icon"><img alt=[doge] src="x.png"></span>好', "[doge]好"),
        ("<script>alert(1)</script>正文<style>p{}</style>", "正文"),
        ("<div><div>未闭合<span>标签", "未闭合标签"),
        ("plain text", "plain text"),
        ("", ""),
        (None, ""),
        ("<<<>>>&&&", "<<<>>>&&&"),
    ],
)
def test_html_to_text_strips_tags_keeps_lines_and_unescapes(markup, text):
    assert html_to_text(markup) == text


def test_html_to_text_survives_hostile_markup():
    hostile = "<" * 10_000 + "文字" + "<a " * 5_000 + "</div>" * 1000 + "<!--" + "<p x='" * 999
    started = time.perf_counter()
    result = html_to_text(hostile)
    assert "文字" in result
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (12000, 12000),
        ("12000", 12000),
        ("12,000", 12000),
        ("1.2万", 12000),
        ("3.5w", 35000),
        ("10万+", 100000),
        ("100+", 100),
        ("2亿", 200_000_000),
        ("1.5k", 1500),
        (" 7 ", 7),
        (3.0, 3),
        (None, None),
        ("", None),
        ("--", None),
        ("万", None),
        (True, None),
        (-1, None),
        ({"n": 1}, None),
    ],
)
def test_parse_count_reads_chinese_units(raw, value):
    assert parse_count(raw) == value


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("Sat Nov 01 08:00:00 +0800 2025", datetime(2025, 11, 1, 0, 0, tzinfo=UTC)),
        ("Fri Nov 20 22:15:07 -0130 2026", datetime(2026, 11, 20, 23, 45, 7, tzinfo=UTC)),
        ("刚刚", NOW),
        ("30秒前", datetime(2026, 11, 20, 23, 59, 30, tzinfo=UTC)),
        ("5分钟前", datetime(2026, 11, 20, 23, 55, tzinfo=UTC)),
        ("3小时前", datetime(2026, 11, 20, 21, 0, tzinfo=UTC)),
        ("今天 08:00", datetime(2026, 11, 21, 0, 0, tzinfo=UTC)),
        ("昨天 23:59", datetime(2026, 11, 20, 15, 59, tzinfo=UTC)),
        ("11-01", datetime(2026, 10, 31, 16, 0, tzinfo=UTC)),
        ("12-25", datetime(2025, 12, 24, 16, 0, tzinfo=UTC)),  # future → last year
        ("2025-11-01", datetime(2025, 10, 31, 16, 0, tzinfo=UTC)),
        ("2025-11-01 12:30", datetime(2025, 11, 1, 4, 30, tzinfo=UTC)),
    ],
)
def test_parse_weibo_time_every_format_to_utc(raw, utc):
    parsed = parse_weibo_time(raw, now=NOW)
    assert parsed == utc
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "明天",
        "13-45",
        "2025-02-30",
        "Sat Nov 99 08:00:00 +0800",
        "Sat Nov 31 08:00:00 +0800 2025",
        "Sat Foo 01 08:00:00 +0800 2025",
    ],
)
def test_parse_weibo_time_rejects_unknown(raw):
    with pytest.raises(TimeFormatError):
        parse_weibo_time(raw, now=NOW)


def test_unix_seconds_milliseconds_and_strings():
    assert from_unix(1761955200) == datetime(2025, 11, 1, tzinfo=UTC)
    assert from_unix(1761955200000) == datetime(2025, 11, 1, tzinfo=UTC)
    assert from_unix("1761955200") == datetime(2025, 11, 1, tzinfo=UTC)
    for bad in (True, "soon", None, 10**30):
        with pytest.raises(TimeFormatError):
            from_unix(bad)


def test_rfc1123():
    assert parse_rfc1123("Sat, 01 Nov 2025 08:00:00 +0800") == datetime(2025, 11, 1, tzinfo=UTC)
    assert parse_rfc1123("Sat, 01 Nov 2025 00:00:00 GMT") == datetime(2025, 11, 1, tzinfo=UTC)
    with pytest.raises(TimeFormatError):
        parse_rfc1123("yesterday")


def test_load_json_names_html_and_truncated_bodies():
    assert load_json(b'{"a": 1}') == {"a": 1}
    assert load_json({"a": 1}) == {"a": 1}
    with pytest.raises(ShapeError, match="HTML"):
        load_json(b"<!DOCTYPE html><html>verify</html>")
    with pytest.raises(ShapeError, match="malformed"):
        load_json(b'{"ok": 1, "data": {"ca')
    with pytest.raises(ShapeError, match="empty"):
        load_json(b"  ")


def test_dig_never_raises():
    body = {"data": {"cards": [{"mblog": {"id": 1}}]}}
    assert dig(body, "data", "cards", 0, "mblog", "id") == 1
    assert dig(body, "data", "cards", 5, "mblog") is None
    assert dig(body, "data", "missing", "x") is None
    assert dig([], "data") is None


def test_build_post_cuts_text_caps_bio_and_drops_unknown_counts():
    post = build_post(
        platform="weibo",
        post_id="1",
        text="字" * 50,
        source="s",
        max_text_chars=10,
        collected_at=NOW,
        author_bio="简" * 5000,
        counts={"likes": 3, "views": None},
    )
    assert post.text == "字" * 10 and post.truncated
    assert len(post.author_bio) == 2000
    assert post.counts == {"likes": 3}
