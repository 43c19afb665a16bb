"""Highlight fallback and the template filters that guard links and classes."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboards.formatting import account_href, percent, safe_url, shanghai_time
from dashboards.highlight import evidence_fragments, feature_class, hit_fragments
from pipeline.models import Evidence, Post, SearchHit, Verdict


def ev(start: int, end: int, feature: str) -> Evidence:
    return Evidence(start=start, end=end, text="", feature=feature)


def test_fragments_cover_text_exactly_once_with_overlaps_and_bad_spans() -> None:
    text = "全额退保加微信tb8888"
    spans = [ev(0, 4, "a"), ev(2, 6, "b"), ev(7, 13, "c"), ev(10, 99, "d"), ev(5, 5, "e")]
    fragments = evidence_fragments(text, spans)
    assert "".join(t for t, _ in fragments) == text
    assert fragments == [("全额退保", "a"), ("加微信", ""), ("tb8888", "c")]


def test_store_highlight_is_used_when_present() -> None:
    post = Post(platform="weibo", post_id="1", text="abc")
    verdict = Verdict(flagged=True, score=1, evidence=[ev(0, 1, "x")])
    assert hit_fragments(SearchHit(post=post, verdict=verdict)) == [("a", "x"), ("bc", "")]
    with_store = SearchHit(post=post, verdict=verdict, highlight=[("ab", "q"), ("c", "")])
    assert hit_fragments(with_store) == [("ab", "q"), ("c", "")]


def test_feature_class_is_a_safe_token() -> None:
    assert feature_class("contact.wechat") == "ev-contact-wechat"
    assert feature_class('x" onmouseover="y') == "ev-x-onmouseover-y"
    assert feature_class("全额") == "ev-other"


def test_safe_url_only_passes_http() -> None:
    assert safe_url("https://weibo.com/1") == "https://weibo.com/1"
    assert safe_url(" javascript:alert(1)") is None
    assert safe_url("JaVaScRiPt:alert(1)") is None
    assert safe_url("data:text/html,<script>") is None
    assert safe_url("//evil.example/x") is None
    assert safe_url(None) is None


def test_account_href_encodes_each_segment() -> None:
    assert account_href("weibo", "a/b?c") == "/accounts/weibo/a%2Fb%3Fc"


def test_times_show_in_shanghai_and_scores_as_percent() -> None:
    assert shanghai_time(datetime(2024, 5, 1, 16, 30, tzinfo=UTC)) == "2024-05-02 00:30"
    assert shanghai_time(datetime(2024, 5, 1, 16, 30)) == "2024-05-02 00:30"
    assert shanghai_time(None) == ""
    assert percent(0.876) == "88%"
    assert percent(1.7) == "100%"
