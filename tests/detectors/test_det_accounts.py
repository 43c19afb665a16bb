"""Account risk is a fold over state (idempotent under re-delivery); rings link accounts
that advertise the same contact, never victims who expose it."""

from datetime import UTC, datetime

import msgspec

from detectors.accounts import AccountPolicy, fold_post, score_accounts
from detectors.rings import find_rings, ring_id
from pipeline.models import AccountRisk, Post

AD = "全额退保，不成功不收费！加微信 tuibao8866"
CHATTER = "今天去公园散步，天气很好"


def post(post_id: str, text: str, author: str = "u1", **kw) -> Post:
    return Post(platform="weibo", post_id=post_id, text=text, author_id=author, **kw)


def fold_all(detector, posts, risk=None, policy=None):
    for p in posts:
        risk = fold_post(risk, p, detector.detect(p.text, p.author_bio), policy)
    return risk


def test_same_post_twice_gives_the_same_risk(detector):
    p = post("1", AD, author_name="退保小王", created_at=datetime(2025, 3, 1, tzinfo=UTC))
    once = fold_all(detector, [p])
    twice = fold_all(detector, [p, p])
    assert once == twice
    assert once.flagged_posts == 1
    assert once.total_posts == 1


def test_redelivery_in_the_middle_does_not_count_twice(detector):
    a, b = post("1", AD), post("2", CHATTER)
    r1 = fold_all(detector, [a, b])
    r2 = fold_all(detector, [a, b, a, b, a])
    assert (r1.score, r1.flagged, r1.flagged_posts, r1.total_posts) == (
        r2.score,
        r2.flagged,
        r2.flagged_posts,
        r2.total_posts,
    )
    assert r1.categories == r2.categories == ["surrender"]
    assert r1.contacts == r2.contacts == ["wechat:tuibao8866"]


def test_a_strong_ad_flags_the_account_and_chatter_does_not(detector):
    assert fold_all(detector, [post("1", AD)]).flagged
    quiet = fold_all(detector, [post(str(i), CHATTER) for i in range(5)])
    assert not quiet.flagged
    assert quiet.total_posts == 5
    assert quiet.categories == []


def test_several_moderate_posts_flag_the_account(detector):
    policy = AccountPolicy(high_score=1.01, moderate_posts=2)  # only counts matter
    one = fold_all(detector, [post("1", AD)], policy=policy)
    assert not one.flagged
    two = fold_all(detector, [post("1", AD), post("2", AD + "!")], policy=policy)
    assert two.flagged
    assert two.score > one.score


def test_post_scores_are_capped_to_the_most_recent(detector):
    policy = AccountPolicy(max_post_scores=3)
    risk = fold_all(detector, [post(str(i), CHATTER) for i in range(6)], policy=policy)
    assert list(risk.post_scores) == ["weibo:3", "weibo:4", "weibo:5"]
    assert risk.total_posts == 3


def test_bio_contacts_join_the_account_contacts(detector):
    p = post("1", "全额退保 私信我", author_bio="V：lpdb_xiaoliu")
    risk = fold_all(detector, [p])
    assert "wechat:lpdbxiaoliu" in risk.contacts
    assert risk.bio == "V：lpdb_xiaoliu"


def test_fold_keeps_first_and_last_seen():
    early = datetime(2025, 1, 1, tzinfo=UTC)
    late = datetime(2025, 2, 1, tzinfo=UTC)
    from pipeline.models import Verdict

    v = Verdict(flagged=False, score=0.1)
    risk = fold_post(None, post("2", "x", created_at=late), v)
    risk = fold_post(risk, post("1", "y", created_at=early), v)
    assert (risk.first_seen, risk.last_seen) == (early, late)
    assert isinstance(risk, AccountRisk)
    assert msgspec.json.decode(msgspec.json.encode(risk), type=AccountRisk) == risk


def account(aid: str, posts: list[str], bio: str | None = None) -> dict:
    return {
        "account_id": aid,
        "platform": "douyin",
        "nickname": aid,
        "bio": bio,
        "posts": [{"id": f"{aid}-{i}", "text": t} for i, t in enumerate(posts)],
    }


def test_accounts_sharing_a_contact_form_a_ring(detector):
    out = score_accounts(
        [
            account("a", [AD]),
            account("b", ["停息挂账 私信", "日常"], bio="v: Tui_Bao-8866"),
            account("c", [CHATTER]),
            account("d", ["征信修复 不成功不收费 wx：zx_kk99"]),
        ],
        detector,
    )
    by_id = {o["account_id"]: o for o in out}
    assert [o["account_id"] for o in out] == ["a", "b", "c", "d"]
    assert by_id["a"]["ring"] == by_id["b"]["ring"] == ring_id("wechat:tuibao8866")
    assert by_id["c"]["ring"] is None
    assert by_id["d"]["ring"] is None
    assert by_id["a"]["flagged"] and not by_id["c"]["flagged"]
    assert any("共用联系方式" in r for r in by_id["b"]["reasons"])
    assert set(by_id["a"]) == {
        "account_id",
        "platform",
        "flagged",
        "score",
        "categories",
        "reasons",
        "ring",
    }


def test_victim_exposing_a_scammer_contact_is_not_linked(detector):
    out = score_accounts(
        [
            account("scammer", [AD]),
            account("victim", ["这个微信 tuibao8866 是骗子 别加！退保钱被骗了"]),
        ],
        detector,
    )
    assert [o["ring"] for o in out] == [None, None]
    assert not out[1]["flagged"]


def test_rings_are_transitive_and_named_after_the_smallest_shared_contact():
    rings = find_rings(
        {
            "x:1": {"wechat:aaa111", "qq:12345"},
            "x:2": {"qq:12345", "phone:15212345678"},
            "x:3": {"phone:15212345678"},
            "x:4": {"wechat:zzz999"},
        }
    )
    assert set(rings) == {"x:1", "x:2", "x:3"}
    ids = {rid for rid, _ in rings.values()}
    assert ids == {ring_id("phone:15212345678")}
    assert rings["x:2"][1] == ["phone:15212345678", "qq:12345"]
