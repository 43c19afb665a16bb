"""Builders for the takedown tests: accounts with reviews, their posts, a seeded store.
(A uniquely named module so test files can import it beside other test folders.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec

from pipeline.models import (
    AccountRisk,
    Contact,
    Evidence,
    Post,
    Review,
    ReviewStatus,
    ScoredPost,
    SearchHit,
    Verdict,
    account_review_target,
)
from pipeline.store.base import Store

T0 = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # the next Monday 09:00 in Shanghai
HOSTILE_NICK = '=HYPERLINK("http://evil.example","点我")'


def post(
    platform: str,
    author: str,
    post_id: str,
    text: str,
    *,
    score: float = 0.9,
    flagged: bool = True,
    phrase: str | None = "全额退保",
    wechat: str | None = None,
    day: int = 0,
    url: str | None = None,
) -> ScoredPost:
    evidence = []
    if phrase and phrase in text:
        start = text.index(phrase)
        evidence = [Evidence(start=start, end=start + len(phrase), text=phrase, feature="p")]
    contacts = []
    if wechat:
        start = text.index(wechat)
        contacts = [
            Contact(
                kind="wechat",
                value=wechat,
                start=start,
                end=start + len(wechat),
                canonical=f"wechat:{wechat}",
            )
        ]
    return ScoredPost(
        post=Post(
            platform=platform,
            post_id=post_id,
            text=text,
            author_id=author,
            author_name=f"昵称{author}",
            url=url or f"https://{platform}.example/{post_id}",
            created_at=T0 + timedelta(days=day),
        ),
        verdict=Verdict(
            flagged=flagged,
            score=score,
            categories=["surrender"] if flagged else [],
            evidence=evidence,
            contacts=contacts,
            reasons=["代理退保广告并留私人联系方式"] if flagged else [],
        ),
    )


def account(
    platform: str,
    account_id: str,
    *,
    score: float = 0.9,
    nickname: str | None = None,
    review: Review | None = None,
    categories: Sequence[str] = ("surrender",),
) -> AccountRisk:
    return AccountRisk(
        platform=platform,
        account_id=account_id,
        nickname=nickname if nickname is not None else f"昵称{account_id}",
        score=score,
        flagged=True,
        categories=list(categories),
        contacts=[f"wechat:wx{account_id}"],
        reasons=["多次发布代理退保广告"],
        review=review,
    )


def review(
    key: str, status: ReviewStatus = ReviewStatus.CONFIRMED, reviewer: str = "li", day: int = 0
) -> Review:
    return Review(
        target=account_review_target(key),
        status=status,
        reviewer=reviewer,
        at=T0 + timedelta(days=day),
    )


def hit(scored: ScoredPost, status: ReviewStatus = ReviewStatus.NEW) -> SearchHit:
    return SearchHit(post=scored.post, verdict=scored.verdict, status=status)


# The seeded store: what each account is, and whether it may be listed.
LISTED = {"weibo:c1", "weibo:c2", "douyin:c3"}
NOT_LISTED = {"weibo:d1", "weibo:n1", "weibo:m1", "weibo:p1author"}


async def seed_store(store: Store) -> None:
    """Confirmed (c*), dismissed (d1), never reviewed but flagged high (n1), confirmed by
    a machine (m1), and an account whose *post* (not the account) was confirmed."""
    posts = [
        post("weibo", "c1", "c1a", "专业代理全额退保，加微信 tbc1", wechat="tbc1", score=0.95),
        post("weibo", "c1", "c1b", "=1+1 全额退保 -2 @SUM(A1)", score=0.9, day=1),
        post("weibo", "c1", "c1c", "今天天气不错", score=0.1, flagged=False, day=2),
        post("weibo", "c2", "c2a", "停息挂账 全额退保 找我", score=0.8),
        post("douyin", "c3", "c3a", "全额退保 不成功不收费", score=0.85),
        post("weibo", "d1", "d1a", "我被保险公司坑了，想全额退保怎么办", score=0.7),
        post("weibo", "n1", "n1a", "全额退保 加V", score=0.99),
        post("weibo", "m1", "m1a", "全额退保 私信", score=0.9),
        post("weibo", "p1author", "pa", "全额退保 加我", score=0.9),
    ]
    accounts = [
        account("weibo", "c1", score=0.93, nickname=HOSTILE_NICK),
        account("weibo", "c2", score=0.8),
        account("douyin", "c3", score=0.85),
        account("weibo", "d1", score=0.7),
        account("weibo", "n1", score=0.99),
        account("weibo", "m1", score=0.9),
        account("weibo", "p1author", score=0.9),
    ]
    await store.write_batch(posts, [msgspec.structs.replace(a, review=None) for a in accounts])
    for key, status, reviewer, day in [
        ("weibo:c1", ReviewStatus.CONFIRMED, "li", 1),
        ("weibo:c2", ReviewStatus.CONFIRMED, "wang", 2),
        ("douyin:c3", ReviewStatus.CONFIRMED, "li", 3),
        ("weibo:d1", ReviewStatus.DISMISSED, "li", 1),
        ("weibo:m1", ReviewStatus.CONFIRMED, "radar-recheck", 1),
    ]:
        await store.set_review(review(key, status, reviewer, day))
    await store.set_review(Review(target="weibo:pa", status=ReviewStatus.CONFIRMED, at=T0))
