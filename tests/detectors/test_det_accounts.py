"""Account risk is a fold over state (idempotent under re-delivery); rings link accounts
that advertise the same contact, never victims who expose it."""

from datetime import UTC, datetime

import msgspec

from detectors.accounts import AccountPolicy, fold_post, score_accounts
from detectors.rings import find_rings, ring_id
from pipeline.models import AccountRisk, Contact, Evidence, Post, Verdict

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
    assert r2 == r1  # the whole risk: reasons, order of post_scores and all
    assert (r1.flagged_posts, r1.total_posts) == (1, 2)
    assert r1.categories == ["surrender"]
    assert r1.contacts == ["wechat:tuibao8866"]


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
    ids = {m.ring for m in rings.values()}
    assert ids == {ring_id("phone:15212345678")}
    assert rings["x:2"].contacts == ["phone:15212345678", "qq:12345"]


FUNNEL_POSTS = ["保单能退全款，不成功不收费，详情看主页", "前期0费用，已交保费全额追回，点头像"]


def test_bio_contact_plus_funnel_posts_make_a_strong_account(detector):
    with_bio = score_accounts([account("f", FUNNEL_POSTS, bio="合作 V: qiao_bd7788")], detector)
    without = score_accounts([account("g", FUNNEL_POSTS)], detector)
    assert with_bio[0]["flagged"]
    assert with_bio[0]["score"] >= max(0.85, without[0]["score"])


def _verdict(score: float, in_bio: bool, *features: str) -> Verdict:
    contacts = [Contact(kind="wechat", value="q_7788", start=0, end=6, canonical="wechat:q7788")]
    return Verdict(
        flagged=score >= 0.5,
        score=score,
        categories=["surrender"],
        evidence=[Evidence(start=0, end=2, text="全额", feature=f) for f in features],
        contacts=[msgspec.structs.replace(c, in_bio=in_bio) for c in contacts],
    )


def test_bio_funnel_lifts_a_weak_selling_post_to_a_flagged_account():
    text = "已交保费能拿回来，主页有方式"
    p = post("1", text)
    lifted = fold_post(None, p, _verdict(0.45, True, "outcome_promise", "contact_cue"))
    plain = fold_post(None, p, _verdict(0.45, False, "outcome_promise", "contact_cue"))
    framed = fold_post(None, p, _verdict(0.45, True, "outcome_promise", "warning_frame"))
    no_sale = fold_post(None, p, _verdict(0.45, True, "contact_cue"))
    elsewhere = fold_post(None, post("1", "已交保费能拿回来"), _verdict(0.45, True, "fee"))
    assert lifted.score == 0.85 and lifted.flagged and lifted.flagged_posts == 1
    assert "简介留私下联系方式, 帖子引流到主页" in lifted.reasons
    assert lifted.categories == ["surrender"]
    for other in (plain, framed, no_sale, elsewhere):
        assert other.score == 0.45 and not other.flagged


def test_funnel_lift_needs_a_sale_and_no_warning_frame(detector):
    from detectors.accounts import default_policy, is_funnel

    policy = default_policy()
    bio = "wx: abc_12345"
    topic_only = "关于退保，我想说两句，主页有我的文章"
    warning = "警惕全额退保骗局，不成功不收费都是套路，主页有监管提示"
    sale = FUNNEL_POSTS[0]
    assert is_funnel(sale, detector.detect(sale, bio), policy)
    assert not is_funnel(sale, detector.detect(sale, None), policy)  # no bio contact
    assert not is_funnel(topic_only, detector.detect(topic_only, bio), policy)
    assert not is_funnel(warning, detector.detect(warning, bio), policy)


def test_funnel_fold_is_idempotent(detector):
    posts = [post(str(i), t, author_bio="V: qiao_bd7788") for i, t in enumerate(FUNNEL_POSTS)]
    once = fold_all(detector, posts)
    again = fold_all(detector, posts + posts[::-1] + posts)
    assert once == again
    assert all(s >= 0.85 for s in once.post_scores.values())
    assert once.flagged and once.flagged_posts == 2


def test_contacts_of_an_unflagged_warning_do_not_link(detector):
    warning = "提醒大家：网上说全额退保的都是骗局，我问过 tuibao8866 他们要先交钱，千万别信"
    v = detector.detect(warning)
    assert not v.flagged
    out = score_accounts([account("ad", [AD]), account("warner", [warning])], detector)
    assert [o["ring"] for o in out] == [None, None]


def test_only_flagged_posts_and_the_bio_lend_contacts_to_rings():
    from detectors.accounts import default_policy, linking_contacts

    policy = default_policy()
    text_contact = Contact(kind="qq", value="12345", start=0, end=5, canonical="qq:12345")
    bio_contact = Contact(kind="qq", value="67890", start=0, end=5, canonical="qq:67890")
    warning = Evidence(start=0, end=2, text="警惕", feature="warning_frame")

    def verdict(flagged, evidence):
        return Verdict(
            flagged=flagged,
            score=0.9 if flagged else 0.1,
            evidence=evidence,
            contacts=[text_contact, msgspec.structs.replace(bio_contact, in_bio=True)],
        )

    both = {"qq:12345", "qq:67890"}
    assert linking_contacts(verdict(True, []), policy) == both
    assert linking_contacts(verdict(True, [warning]), policy) == both  # ad dressed as warning
    assert linking_contacts(verdict(False, [warning]), policy) == {"qq:67890"}
    assert linking_contacts(verdict(False, []), policy) == {"qq:67890"}  # e.g. a question


def test_a_bare_link_to_a_public_site_links_nobody():
    from detectors.accounts import default_policy, linking_contacts

    def link(canonical):
        return Contact(kind="link", value=canonical, start=0, end=1, canonical=canonical)

    v = Verdict(
        flagged=True,
        score=0.9,
        contacts=[link("link:baidu.com"), link("link:www.weibo.com/"), link("link:t.cn/a6xyz")],
    )
    assert linking_contacts(v, default_policy()) == {"link:t.cn/a6xyz"}


def test_the_account_counts_exactly_the_posts_the_detector_flagged():
    # a calibrated model may flag below the account's post threshold, or leave a post
    # unflagged above it (closed gate): the verdict decides, the score follows
    low_flagged = Verdict(flagged=True, score=0.35)
    high_unflagged = Verdict(flagged=False, score=0.6)
    risk = fold_post(None, post("1", "a"), low_flagged)
    risk = fold_post(risk, post("2", "b"), high_unflagged)
    assert risk.post_scores == {"weibo:1": 0.5, "weibo:2": 0.499}
    assert risk.flagged_posts == 1
