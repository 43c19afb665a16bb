"""Builders for store tests: scored posts and accounts without running the detector."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pipeline.models import AccountRisk, Contact, Evidence, Post, ScoredPost, Verdict
from pipeline.store.es_settings import ElasticsearchSettings

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def es_settings(url: str, **overrides: object) -> ElasticsearchSettings:
    """Settings for an Elasticsearch store on an osmem clone at ``url`` (osmem refuses the
    official client's vendor media type, hence ``compat = "opensearch"``)."""
    values: dict[str, object] = {
        "hosts": [url],
        "compat": "opensearch",
        "request_timeout": 10.0,
        "retries": 1,
    }
    values.update(overrides)
    return ElasticsearchSettings(**values)  # type: ignore[arg-type]


def day(n: int) -> datetime:
    """Noon UTC on 2025-03-0n: distinct, ordered post times."""
    return T0 + timedelta(days=n - 1, hours=12)


def span(text: str, phrase: str, feature: str, category: str | None = None) -> Evidence:
    start = text.index(phrase)
    return Evidence(
        start=start, end=start + len(phrase), text=phrase, feature=feature, category=category
    )


def scored(
    post_id: str,
    text: str,
    *,
    platform: str = "weibo",
    author: str | None = "u1",
    score: float = 0.9,
    flagged: bool = True,
    categories: Sequence[str] = ("surrender",),
    evidence: Sequence[tuple[str, str]] = (),
    contacts: Sequence[str] = (),
    created: datetime | None = None,
    collected: datetime | None = None,
) -> ScoredPost:
    """A scored post; ``evidence`` is ``(phrase, feature)`` pairs found in ``text`` and
    ``contacts`` canonical WeChat ids (``wechat:<id>``) that appear in ``text``."""
    contact_structs = []
    for canonical in contacts:
        value = canonical.split(":", 1)[1]
        start = text.index(value)
        contact_structs.append(
            Contact(
                kind="wechat", value=value, start=start, end=start + len(value), canonical=canonical
            )
        )
    post = Post(
        platform=platform,
        post_id=post_id,
        text=text,
        source=f"{platform}-test",
        author_id=author,
        author_name=f"name-{author}" if author else None,
        url=f"https://{platform}.example/{post_id}",
        created_at=created,
        created_raw=created.isoformat() if created else None,
        collected_at=collected or T0 + timedelta(days=30),
    )
    verdict = Verdict(
        flagged=flagged,
        score=score,
        categories=list(categories),
        evidence=[span(text, phrase, feature) for phrase, feature in evidence],
        contacts=contact_structs,
        reasons=[f"test reason for {post_id}"] if flagged else [],
        detector_version="test-1",
    )
    return ScoredPost(post=post, verdict=verdict)


def account(
    platform: str,
    account_id: str,
    *,
    score: float,
    flagged: bool,
    contacts: Sequence[str] = (),
    ring: str | None = None,
) -> AccountRisk:
    return AccountRisk(
        platform=platform,
        account_id=account_id,
        nickname=f"name-{account_id}",
        score=score,
        flagged=flagged,
        categories=["surrender"] if flagged else [],
        contacts=list(contacts),
        post_scores={f"{platform}:p": score},
        flagged_posts=int(flagged),
        total_posts=1,
        ring=ring,
        first_seen=day(1),
        last_seen=day(4),
    )


# The shared data set: four flagged posts in three platforms' worth of categories, and
# two hard negatives (an everyday post that happens to contain 口子, and a news warning).
P1 = scored(
    "p1",
    "专业代理全额退保，不成功不收费，加vx：tb2025",
    score=0.95,
    categories=["surrender"],
    evidence=[("全额退保", "surrender_phrase"), ("不成功不收费", "guarantee")],
    contacts=["wechat:tb2025"],
    created=day(1),
)
P2 = scored(
    "p2",
    "停息挂账找我们，有口子秒下，加微信 dk888",
    author="u2",
    score=0.85,
    categories=["debt"],
    evidence=[("停息挂账", "debt_phrase")],
    contacts=["wechat:dk888"],
    created=day(2),
)
P3 = scored(
    "p3",
    "征信修复，逾期记录可以消除，私信",
    platform="douyin",
    author="u3",
    score=0.75,
    categories=["credit"],
    evidence=[("征信修复", "credit_phrase")],
    created=day(3),
)
P4 = scored(
    "p4",
    "教你投诉保险公司，退保全额拿回，ＶＸ同号 tb2025",
    platform="douyin",
    author="u3",
    score=0.65,
    categories=["surrender", "complaint"],
    evidence=[("投诉保险公司", "complaint_coaching")],
    contacts=["wechat:tb2025"],
    created=day(4),
)
P5 = scored(
    "p5",
    "今天去银行办业务，钱包的口子开线了",
    platform="xiaohongshu",
    author="u5",
    score=0.1,
    flagged=False,
    categories=[],
    created=None,
    collected=day(5),
)
P6 = scored(
    "p6",
    "新闻：监管提醒消费者警惕代理退保黑产",
    author="news",
    score=0.2,
    flagged=False,
    categories=[],
    created=day(6),
)
POSTS = [P1, P2, P3, P4, P5, P6]
# No ``ring``: a written ring is never read back (the ring job's saved rings are).
ACCOUNTS = [
    account("weibo", "u1", score=0.9, flagged=True, contacts=["wechat:tb2025"]),
    account("weibo", "u2", score=0.8, flagged=True, contacts=["wechat:dk888", "qq:12345"]),
    account("douyin", "u3", score=0.7, flagged=True, contacts=[]),
]
