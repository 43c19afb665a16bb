"""Rendering: a multipart mail, zh-CN first and English second, with the evidence marked,
and nothing from a post able to inject markup, script, links or headers."""

from __future__ import annotations

from alert_support import NOW, alert_settings, risk, rule, scored

from pipeline.alerts.mail import build_message, dashboard_link, render
from pipeline.alerts.rules import evaluate
from pipeline.models import Alert

HOSTILE = "<script>alert(1)</script>全额退保<img src=x onerror=alert(2)>，加威信 tb2026"


def one_alert(**risk_values) -> Alert:
    post = scored("p1", HOSTILE, phrases=["全额退保"], url="javascript:alert(3)")
    found = evaluate([rule()], {}, [risk(**risk_values)], [post], NOW)
    alert = found[0]
    alert.id = f"{alert.dedupe_key}#email#1"
    return alert


def test_subject_names_the_account_and_score_in_both_languages() -> None:
    subject, _, _ = render(one_alert(score=0.97), alert_settings())
    assert subject == "[黑产雷达] 高风险账号 weibo:u1 (0.97) / High-risk account"


def test_text_part_is_chinese_first_then_english_with_marked_evidence() -> None:
    _, text, _ = render(one_alert(), alert_settings(dashboard_url="https://radar.example"))
    zh, en = text.index("【黑产雷达】高风险账号告警"), text.index("Heichan Radar alert")
    assert zh < en
    assert "类别：代理退保" in text and "insurance-surrender agent (surrender)" in text
    assert "【全额退保】" in text  # the matched words, marked
    assert "wechat:tb2026" in text
    assert "https://radar.example/accounts/weibo/u1" in text


def test_html_escapes_hostile_nicknames_and_texts() -> None:
    alert = one_alert(nickname='<script>steal()</script>"><b>')
    _, _, html = render(alert, alert_settings())
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert '<mark title="phrase">全额退保</mark>' in html
    assert "javascript:" not in html  # the post's URL is shown as text, never linked


def test_account_ids_are_quoted_in_links_and_stripped_from_headers() -> None:
    alert = one_alert()
    alert.account_id = "u1/../admin?x=1\r\nBcc: evil@example.org"
    alert.account_key = "weibo:" + alert.account_id
    link = dashboard_link(alert, alert_settings())
    assert link is not None and link.startswith("http://127.0.0.1:8600/accounts/weibo/u1%2F..%2F")
    message = build_message(alert, alert_settings())
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]


def test_message_is_multipart_alternative_with_a_stable_message_id() -> None:
    alert = one_alert()
    message = build_message(alert, alert_settings())
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert message["To"] == "compliance@example.org"
    assert message["From"] == "radar@example.org"
    assert message["Message-ID"] == build_message(alert, alert_settings())["Message-ID"]


def test_post_alert_subject() -> None:
    post_rule = rule("post_contact", when="post_flagged")
    alert = evaluate([post_rule], {}, [], [scored("p7", score=0.931)], NOW)[0]
    subject, text, _ = render(alert, alert_settings())
    assert subject == "[黑产雷达] 高风险帖子 weibo:u1 (0.93) / High-risk post"
    assert "帖子：weibo:p7" in text
