"""The pure builder: who may be listed, what evidence is shown, ids and idempotency."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from takedown_seed import NOW, T0, account, hit, post, review

from pipeline.models import ReviewStatus, TakedownSummary, valid_list_id
from pipeline.takedown.builder import build_takedown_lists, excerpt, list_id, pick_evidence

TZ = ZoneInfo("Asia/Shanghai")


def confirmed(platform: str, account_id: str, reviewer: str = "li", day: int = 0, **kw):
    key = f"{platform}:{account_id}"
    return account(platform, account_id, review=review(key, reviewer=reviewer, day=day), **kw)


def build(accounts, posts=None, previous=()):
    return build_takedown_lists(accounts, posts or {}, now=NOW, tz=TZ, previous=previous)


def test_only_accounts_a_person_confirmed_are_listed() -> None:
    accounts = [
        confirmed("weibo", "yes"),
        account("weibo", "unreviewed", score=0.99),  # machine-flagged only
        account("weibo", "new", review=review("weibo:new", ReviewStatus.NEW)),
        account("weibo", "no", review=review("weibo:no", ReviewStatus.DISMISSED)),
        account("weibo", "done", review=review("weibo:done", ReviewStatus.REPORTED)),
        confirmed("weibo", "bot", reviewer="radar-recheck"),
        confirmed("weibo", "self", reviewer="takedown-list"),
    ]
    plan = build(accounts)
    assert [[e.key for e in t.entries] for t in plan.lists] == [["weibo:yes"]]
    assert plan.leftovers == {}


def test_one_list_per_platform_strongest_first() -> None:
    plan = build(
        [
            confirmed("weibo", "a", score=0.7),
            confirmed("douyin", "b", score=0.8),
            confirmed("weibo", "c", score=0.9),
            confirmed("weibo", "c", score=0.9),  # the same account twice is listed once
        ]
    )
    assert [t.platform for t in plan.lists] == ["douyin", "weibo"]
    assert [e.key for e in plan.lists[1].entries] == ["weibo:c", "weibo:a"]
    assert all(t.created_at == NOW for t in plan.lists)


def test_nothing_confirmed_means_no_list() -> None:
    assert build([account("weibo", "x")]).lists == []


def test_list_id_is_dated_locally_and_hashes_its_accounts() -> None:
    first = build([confirmed("weibo", "a"), confirmed("weibo", "b")]).lists[0]
    assert first.id.startswith("2026-11-23-weibo-")
    assert valid_list_id(first.id)
    again = build([confirmed("weibo", "b"), confirmed("weibo", "a")]).lists[0]
    assert again.id == first.id  # same accounts, same decisions: the same list
    later = build([confirmed("weibo", "a"), confirmed("weibo", "b", day=1)]).lists[0]
    assert later.id != first.id
    # 23:30 UTC on the 22nd is already the 23rd in Shanghai: the local date names it.
    entries = first.entries
    late = NOW - timedelta(hours=1, minutes=30)
    assert late.day == 22
    assert list_id("weibo", entries, late, TZ)[:10] == "2026-11-23"
    assert list_id("Weird Platform/名", entries, NOW, TZ).split("-")[3:5] == ["weird", "platform"]
    assert valid_list_id(list_id("Weird Platform/名", entries, NOW, TZ))


@pytest.mark.parametrize(
    "value", ["", "../../etc/passwd", "2026-11-23-weibo-xyz", "2026-11-23-WEIBO-1a2b3c4d", "a.csv"]
)
def test_invalid_list_ids(value: str) -> None:
    assert not valid_list_id(value)


def test_period_spans_the_confirmations_in_local_dates() -> None:
    plan = build([confirmed("weibo", "a", day=0), confirmed("weibo", "b", day=3)])
    assert plan.lists[0].period == "2026-11-16~2026-11-23"


def test_entry_carries_what_a_platform_needs() -> None:
    posts = [
        post("weibo", "a", "p1", "专业代理全额退保，加微信 tb2025", wechat="tb2025", score=0.95),
        post("weibo", "a", "p2", "今天天气不错", flagged=False, score=0.1),
    ]
    acc = confirmed("weibo", "a/b", score=0.9)
    [takedown] = build([acc], {"weibo:a/b": [hit(p) for p in posts]}).lists
    [entry] = takedown.entries
    assert entry.profile_url == "https://weibo.com/u/a%2Fb"
    assert entry.categories == ["代理退保"]
    assert entry.reasons == ["多次发布代理退保广告"]
    assert entry.contacts == ["wechat:wxa/b", "wechat:tb2025"]
    assert [ev.post_key for ev in entry.evidence] == ["weibo:p1"]
    assert entry.evidence[0].url == "https://weibo.example/p1"
    assert (entry.confirmed_by, entry.confirmed_at) == ("li", T0)
    assert entry.score == 0.95  # the strongest evidence, when above the account's score


def test_unknown_platform_has_no_profile_link() -> None:
    [takedown] = build([confirmed("someforum", "x")]).lists
    assert takedown.entries[0].profile_url is None


def test_bare_account_borrows_labels_from_its_evidence() -> None:
    bare = msgspec.structs.replace(
        confirmed("weibo", "z"), nickname=None, categories=[], reasons=[], contacts=[], score=0.0
    )
    scored = post("weibo", "z", "z1", "全额退保 加微信 zz99", wechat="zz99", score=0.8)
    [takedown] = build([bare], {"weibo:z": [hit(scored)]}).lists
    entry = takedown.entries[0]
    assert (entry.nickname, entry.categories, entry.contacts) == (
        "昵称z",
        ["代理退保"],
        ["wechat:zz99"],
    )
    assert entry.reasons == ["代理退保广告并留私人联系方式"]
    assert entry.score == 0.8


def test_evidence_is_at_most_five_flagged_posts_never_dismissed_ones() -> None:
    hits = [hit(post("weibo", "a", f"p{i}", f"全额退保 第{i}条", score=i / 10)) for i in range(8)]
    hits.append(
        hit(post("weibo", "a", "dis", "全额退保 被驳回", score=0.99), ReviewStatus.DISMISSED)
    )
    hits.append(hit(post("weibo", "a", "quiet", "全额退保", score=0.98, flagged=False)))
    chosen = pick_evidence(hits)
    assert [h.post.post_id for h in chosen] == ["p7", "p6", "p5", "p4", "p3"]


def test_equal_scores_prefer_the_newest_post() -> None:
    old = hit(post("weibo", "a", "old", "全额退保", day=0))
    new = hit(post("weibo", "a", "new", "全额退保", day=2))
    assert [h.post.post_id for h in pick_evidence([old, new])] == ["new", "old"]


def test_excerpt_is_cut_around_the_evidence_on_one_line() -> None:
    text = "开头" * 60 + "\n\n专业全额退保\t加V" + "结尾" * 60
    scored = post("weibo", "a", "long", text)
    cut = excerpt(hit(scored))
    assert cut.startswith("…") and cut.endswith("…")
    assert "专业全额退保 加V" in cut
    assert "\n" not in cut and len(cut) <= 122
    short = post("weibo", "a", "s", "全额退保")
    assert excerpt(hit(short)) == "全额退保"


def summary(list_id_: str, keys: list[str], created) -> TakedownSummary:
    return TakedownSummary(
        id=list_id_, platform="weibo", created_at=created, count=len(keys), accounts=keys
    )


def test_account_on_a_list_made_after_its_confirmation_is_a_leftover_not_relisted() -> None:
    previous = [summary("2026-11-20-weibo-0000000a", ["weibo:a"], T0 + timedelta(days=4))]
    plan = build([confirmed("weibo", "a", day=1), confirmed("weibo", "b")], previous=previous)
    assert plan.leftovers == {"weibo:a": "2026-11-20-weibo-0000000a"}
    assert [e.key for t in plan.lists for e in t.entries] == ["weibo:b"]


def test_account_confirmed_again_after_its_list_is_listed_again() -> None:
    # Listed on the 17th, came back, confirmed again on the 19th: a new list names it.
    previous = [summary("2026-11-17-weibo-0000000a", ["weibo:a"], T0 + timedelta(days=1))]
    plan = build([confirmed("weibo", "a", day=3)], previous=previous)
    assert plan.leftovers == {}
    assert [e.key for t in plan.lists for e in t.entries] == ["weibo:a"]
