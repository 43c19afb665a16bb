"""Rules: what fires, what never does, and the evidence every alert carries."""

from __future__ import annotations

from alert_support import NOW, risk, rule, scored

from pipeline.alerts.rules import evaluate
from pipeline.models import account_review_target


def test_an_account_crossing_the_rule_fires_once_with_its_evidence() -> None:
    posts = [scored("p1"), scored("p2", score=0.8, phrases=["全额退保"])]
    alerts = evaluate([rule()], {}, [risk()], posts, NOW)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.dedupe_key == "high_risk:weibo:u1"
    assert alert.kind == "account" and alert.account_key == "weibo:u1"
    assert alert.recipients == ["compliance@example.org"]
    assert [e.post_key for e in alert.evidence] == ["weibo:p1", "weibo:p2"]  # best first
    first = alert.evidence[0]
    assert [first.snippet[s.start : s.end] for s in first.spans] == ["全额退保", "不成功不收费"]
    assert "wechat:tb2026" in alert.contacts


def test_an_account_already_over_the_line_does_not_fire_again() -> None:
    before = {"weibo:u1": risk(score=0.93)}
    assert evaluate([rule()], before, [risk(score=0.97)], [scored("p3")], NOW) == []


def test_a_score_rising_past_min_score_is_a_crossing() -> None:
    before = {"weibo:u1": risk(score=0.7)}  # flagged, but under this rule's 0.9
    alerts = evaluate([rule()], before, [risk(score=0.92)], [scored("p3")], NOW)
    assert [a.account_key for a in alerts] == ["weibo:u1"]


def test_a_newly_flagged_account_fires_and_an_unflagged_one_never_does() -> None:
    before = {"weibo:u1": risk(flagged=False, score=0.3)}
    assert evaluate([rule(min_score=0.5)], before, [risk(score=0.6)], [scored("p1")], NOW)
    # Unflagged (a genuine complainant, say) never alerts, whatever its score.
    unflagged = risk("u2", flagged=False, score=0.99)
    post = scored("p2", author="u2", flagged=False)
    assert evaluate([rule(min_score=0.0)], {}, [unflagged], [post], NOW) == []


def test_a_dismissed_account_never_alerts() -> None:
    dismissed = {account_review_target("weibo:u1")}
    assert evaluate([rule()], {}, [risk()], [scored("p1")], NOW, dismissed=dismissed) == []
    # A dismissed *post* with the same key shape as the account does not silence it.
    found = evaluate([rule()], {}, [risk()], [scored("p1")], NOW, dismissed={"weibo:u1"})
    assert len(found) == 1


def test_dismissed_posts_are_left_out_of_the_evidence() -> None:
    posts = [scored("p1"), scored("p2")]
    found = evaluate([rule()], {}, [risk()], posts, NOW, dismissed={"weibo:p1"})
    assert [e.post_key for e in found[0].evidence] == ["weibo:p2"]


def test_an_account_crossing_without_flagged_posts_in_the_batch_does_not_alert() -> None:
    quiet = scored("p1", flagged=False, score=0.2, phrases=[], contact=None)
    assert evaluate([rule()], {}, [risk()], [quiet], NOW) == []


def test_category_and_platform_filters() -> None:
    debt_rule = rule("debt_only", categories=["debt"])
    douyin_rule = rule("douyin_only", platforms=["douyin"])
    both = [debt_rule, douyin_rule, rule("any")]
    found = evaluate(both, {}, [risk()], [scored("p1")], NOW)
    assert [a.rule for a in found] == ["any"]
    debt = risk("d1", platform="douyin", categories=["debt", "credit"])
    post = scored("p9", author="d1", platform="douyin", categories=["debt"])
    found = evaluate(both, {}, [debt], [post], NOW)
    assert sorted(a.rule for a in found) == ["any", "debt_only", "douyin_only"]


def test_a_post_rule_needs_a_flagged_high_scoring_post_with_a_private_contact() -> None:
    post_rule = rule("post_contact", when="post_flagged", min_score=0.9)
    posts = [
        scored("p1", score=0.95),  # fires
        scored("p2", author="u2", score=0.95, contact=None),  # no contact
        scored("p3", author="u3", score=0.85),  # under min_score
        scored("p4", author="u4", score=0.95, flagged=False),  # not flagged
    ]
    found = evaluate([post_rule], {}, [], posts, NOW)
    assert [(a.kind, a.post_key) for a in found] == [("post", "weibo:p1")]
    assert found[0].dedupe_key == "post_contact:weibo:u1"


def test_a_post_rule_groups_one_accounts_posts_into_one_alert() -> None:
    post_rule = rule("post_contact", when="post_flagged")
    posts = [scored("p1", score=0.91), scored("p2", score=0.99)]
    found = evaluate([post_rule], {}, [], posts, NOW)
    assert len(found) == 1
    assert found[0].post_key == "weibo:p2" and found[0].score == 0.99
    assert [e.post_key for e in found[0].evidence] == ["weibo:p2", "weibo:p1"]


def test_a_post_without_an_author_is_keyed_by_the_post() -> None:
    post_rule = rule("post_contact", when="post_flagged")
    found = evaluate([post_rule], {}, [], [scored("p1", author=None)], NOW)
    assert found[0].dedupe_key == "post_contact:weibo:p1" and found[0].account_key is None


def test_evidence_is_capped() -> None:
    posts = [scored(f"p{i}") for i in range(9)]
    found = evaluate([rule()], {}, [risk()], posts, NOW, max_evidence=5)
    assert len(found[0].evidence) == 5


def test_a_long_post_is_cut_around_its_matches_and_spans_follow_the_cut() -> None:
    text = "今天天气很好。" * 60 + "专业代理全额退保，加威信 tb2026" + "。后面还有很多字" * 40
    found = evaluate([rule()], {}, [risk()], [scored("p1", text, phrases=["全额退保"])], NOW)
    excerpt = found[0].evidence[0]
    assert excerpt.cut_before and excerpt.cut_after
    assert len(excerpt.snippet) <= 200
    assert [excerpt.snippet[s.start : s.end] for s in excerpt.spans] == ["全额退保"]
