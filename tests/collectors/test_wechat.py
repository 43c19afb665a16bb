"""WeChat article pages parsed with the stdlib HTML parser, hostile pages included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.http import RiskControlError, ShapeError
from collectors.wechat import ArticleGone, canonical_url, parse_article

FIXTURES = Path(__file__).parent / "fixtures" / "wechat"
NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
URL = "https://mp.weixin.qq.com/s/AbCdEf123"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_article_title_text_account_bio_time_and_id():
    [post], cursor = parse_article(load("article.html"), URL, now=NOW, source="wx")
    assert cursor is None
    assert post.platform == "wechat" and post.source == "wx"
    assert post.post_id == "MzA5OTAwMDAwMQ==:2247483650:1"
    assert post.text.splitlines()[0] == "信用卡逾期了怎么办？三步教你协商"
    assert "第一步：准备材料\n第二步：联系我们" in post.text
    assert "答案是可以的&而且很简单。" in post.text
    assert "咨询请加微信：anxin_2026" in post.text
    assert "should not appear" not in post.text  # scripts inside the content are dropped
    assert post.author_id == "gh_0a1b2c3d4e5f"
    assert post.author_name == "安心债务规划"
    assert post.author_bio == "专注停息挂账、个性化分期协商，十年经验团队"
    assert post.url == URL
    assert post.created_raw == "1763604000"
    assert post.created_at == datetime(2025, 11, 20, 2, 0, tzinfo=UTC)


def test_create_time_fallback_is_beijing_time():
    page = load("article.html").replace(b'var ct = "1763604000";', b"")
    [post], _ = parse_article(page, URL, now=NOW)
    assert post.created_raw == "2025-11-20 10:00"
    assert post.created_at == datetime(2025, 11, 20, 2, 0, tzinfo=UTC)


def test_id_falls_back_to_the_url_hash_without_page_variables():
    page = b'<div id="js_content"><p>only text</p></div>'
    [first], _ = parse_article(page, URL, now=NOW)
    [again], _ = parse_article(page, URL, now=NOW)
    [other], _ = parse_article(page, URL + "x", now=NOW)
    assert first.post_id.startswith("url:") and first.post_id == again.post_id
    assert other.post_id != first.post_id
    assert first.author_id is None and first.created_at is None


def test_hostile_page_never_crashes_and_keeps_visible_text_only():
    [post], _ = parse_article(load("hostile.html"), URL, now=NOW)
    assert "未闭合的段落" in post.text and "链接" in post.text
    assert "alert" not in post.text and "注释里的文字" not in post.text
    assert "<script>转义的</script>" in post.text  # escaped text stays text
    assert post.created_at is None


def test_deleted_verification_and_non_article_pages():
    with pytest.raises(ArticleGone):
        parse_article(load("deleted.html"), URL)
    with pytest.raises(RiskControlError):
        parse_article(load("verify.html"), URL)
    for body in (b"", b'{"json": true}', b"<html><body>404</body></html>"):
        with pytest.raises(ShapeError):
            parse_article(body, URL)


def test_canonical_url_drops_reader_parameters_and_refuses_other_hosts():
    assert canonical_url(" https://mp.weixin.qq.com/s/AbC?scene=1&uin=x ") == (
        "https://mp.weixin.qq.com/s/AbC"
    )
    long = "http://mp.weixin.qq.com/s?__biz=Mz==&mid=22&idx=1&sn=ff&key=SECRET&pass_ticket=t#rd"
    assert canonical_url(long) == "https://mp.weixin.qq.com/s?__biz=Mz%3D%3D&mid=22&idx=1&sn=ff"
    for bad in ("https://evil.example/s/AbC", "ftp://mp.weixin.qq.com/s/x", "not a url", ""):
        assert canonical_url(bad) is None
    assert canonical_url("https://mp.weixin.qq.com/s?sn=only") is None


def test_script_escapes_never_yield_unencodable_text():
    page = b'<div id="js_content">x</div><script>var nickname = "\\ud800\\u5b89\\x41";</script>'
    [post], _ = parse_article(page, URL, now=NOW)
    assert post.author_name == "\ufffd\u5b89A"
    post.author_name.encode("utf-8")
