"""An in-memory ``Store`` and sample data for the dashboard tests.

The fake implements the whole ``Store`` protocol with plain dicts so the HTTP tests check
the app's behaviour (rendering, escaping, parameters, headers), not a database. The
browser test uses the real ``SqliteStore`` instead. (A uniquely named module rather than
``conftest`` so test files can import it without clashing with other test folders.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from dashboards.highlight import evidence_fragments
from pipeline.models import (
    AccountRisk,
    Contact,
    Evidence,
    Post,
    Reject,
    Review,
    ReviewStatus,
    Ring,
    ScoredPost,
    SearchHit,
    SearchQuery,
    SearchResult,
    SourceState,
    StoreStats,
    Verdict,
)

HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(2)> 全额退保 加V'


def _mark_query(fragments: list[tuple[str, str]], q: str) -> list[tuple[str, str]]:
    if not q:
        return fragments
    out: list[tuple[str, str]] = []
    pattern = re.compile(f"({re.escape(q)})", re.IGNORECASE)
    for text, mark in fragments:
        if mark:
            out.append((text, mark))
            continue
        for i, piece in enumerate(pattern.split(text)):
            if piece:
                out.append((piece, "q" if i % 2 else ""))
    return out


class FakeStore:
    """In-memory ``Store``: enough search semantics to exercise every filter."""

    def __init__(self) -> None:
        self.hits: dict[str, SearchHit] = {}
        self.accounts: dict[str, AccountRisk] = {}
        self.sources: dict[str, SourceState] = {}
        self.rejects: list[Reject] = []
        self.queries: list[SearchQuery] = []
        self.rings: dict[str, Ring] = {}
        self.fail_search = False

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write_batch(
        self,
        posts: Sequence[ScoredPost],
        accounts: Sequence[AccountRisk] = (),
        checkpoints: Sequence[SourceState] = (),
    ) -> None:
        for sp in posts:
            old = self.hits.get(sp.post.key)
            status = old.status if old else ReviewStatus.NEW
            self.hits[sp.post.key] = SearchHit(post=sp.post, verdict=sp.verdict, status=status)
        for account in accounts:
            self.accounts[account.key] = account
        for state in checkpoints:
            self.sources[state.name] = state

    async def record_rejects(self, rejects: Sequence[Reject]) -> None:
        self.rejects.extend(rejects)

    async def get_accounts(self, keys: Sequence[str]) -> dict[str, AccountRisk]:
        return {k: self.accounts[k] for k in keys if k in self.accounts}

    async def get_account(self, platform: str, account_id: str) -> AccountRisk | None:
        return self.accounts.get(f"{platform}:{account_id}")

    async def account_posts(
        self, platform: str, account_id: str, limit: int = 50
    ) -> list[SearchHit]:
        key = f"{platform}:{account_id}"
        return [h for h in self.hits.values() if h.post.account_key == key][:limit]

    async def accounts_sharing_contacts(
        self, contacts: Sequence[str], exclude: str | None = None
    ) -> list[AccountRisk]:
        wanted = set(contacts)
        return [a for a in self.accounts.values() if a.key != exclude and wanted & set(a.contacts)]

    async def get_ring(self, ring_id: str) -> Ring | None:
        return self.rings.get(ring_id)

    async def ring_members(self, ring_id: str, limit: int = 200) -> list[AccountRisk]:
        members = [a for a in self.accounts.values() if a.ring == ring_id]
        return sorted(members, key=lambda a: (-a.score, a.key))[:limit]

    async def get_post(self, key: str) -> SearchHit | None:
        return self.hits.get(key)

    def _matches(self, hit: SearchHit, query: SearchQuery) -> bool:
        post, verdict = hit.post, hit.verdict
        created = post.created_at
        return (
            (not query.q or query.q.lower() in post.text.lower())
            and (not query.category or query.category in verdict.categories)
            and (not query.platform or post.platform == query.platform)
            and (not query.since or (created is not None and created >= query.since))
            and (not query.until or (created is not None and created < query.until))
            and (query.min_score is None or verdict.score >= query.min_score)
            and (query.status is None or hit.status == query.status)
            and (not query.flagged_only or verdict.flagged)
        )

    async def search(self, query: SearchQuery) -> SearchResult:
        if self.fail_search:
            raise RuntimeError("database is locked")
        self.queries.append(query)
        found = [h for h in self.hits.values() if self._matches(h, query)]
        found.sort(key=lambda h: h.verdict.score, reverse=True)
        facets = {
            "category": dict(Counter(c for h in found for c in h.verdict.categories)),
            "platform": dict(Counter(h.post.platform for h in found)),
            "status": dict(Counter(str(h.status) for h in found)),
        }
        start = (query.page - 1) * query.page_size
        page = [
            SearchHit(
                post=h.post,
                verdict=h.verdict,
                status=h.status,
                highlight=_mark_query(evidence_fragments(h.post.text, h.verdict.evidence), query.q),
            )
            for h in found[start : start + query.page_size]
        ]
        return SearchResult(total=len(found), results=page, facets=facets)

    async def set_review(self, review: Review) -> None:
        hit = self.hits[review.target]
        self.hits[review.target] = SearchHit(
            post=hit.post, verdict=hit.verdict, status=review.status
        )

    async def get_checkpoint(self, source: str) -> SourceState | None:
        return self.sources.get(source)

    async def list_sources(self) -> list[SourceState]:
        return list(self.sources.values())

    async def count_posts(self) -> int:
        return len(self.hits)

    async def stats(self) -> StoreStats:
        hits = list(self.hits.values())
        return StoreStats(
            posts=len(hits),
            flagged_posts=sum(h.verdict.flagged for h in hits),
            accounts=len(self.accounts),
            flagged_accounts=sum(a.flagged for a in self.accounts.values()),
            rejects=len(self.rejects),
            by_category=dict(Counter(c for h in hits for c in h.verdict.categories)),
            by_platform=dict(Counter(h.post.platform for h in hits)),
        )


def scored(
    post_id: str,
    text: str,
    *,
    platform: str = "weibo",
    author_id: str | None = "u1",
    author_name: str | None = "退保小助手",
    categories: Sequence[str] = ("surrender",),
    score: float = 0.9,
    flagged: bool = True,
    evidence: Sequence[tuple[str, str]] = (),
    contacts: Sequence[Contact] = (),
    created_at: datetime | None = None,
    url: str | None = None,
) -> ScoredPost:
    """A scored post; ``evidence`` names substrings of ``text`` and their feature."""
    spans = [
        Evidence(start=text.index(s), end=text.index(s) + len(s), text=s, feature=f)
        for s, f in evidence
    ]
    return ScoredPost(
        post=Post(
            platform=platform,
            post_id=post_id,
            text=text,
            author_id=author_id,
            author_name=author_name,
            url=url if url is not None else f"https://weibo.example/{post_id}",
            created_at=created_at or datetime(2024, 5, 1, 4, 30, tzinfo=UTC),
        ),
        verdict=Verdict(
            flagged=flagged,
            score=score,
            categories=list(categories),
            evidence=spans,
            contacts=list(contacts),
            reasons=["提供全额退保代办服务并留私人联系方式"] if flagged else [],
        ),
    )


def wechat(text: str, value: str) -> Contact:
    start = text.index(value)
    return Contact(
        kind="wechat", value=value, start=start, end=start + len(value), canonical=f"wx:{value}"
    )


T1 = "专业全额退保，成功率高，加微信 tb8888 咨询"
T2 = "停息挂账、债务优化，上岸不是梦，VX: zw6666"
T3 = "今天去银行办业务，排队好久"


async def seed(store: FakeStore) -> None:
    """Three authors, one hostile post, one unflagged post, a ring of two accounts."""
    store.rings["ring-1"] = Ring(id="ring-1", size=2, contacts=["wx:tb8888"])
    await store.write_batch(
        [
            scored(
                "p1",
                T1,
                evidence=[("全额退保", "surrender_phrase"), ("tb8888", "contact.wechat")],
                contacts=[wechat(T1, "tb8888")],
                created_at=datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
            ),
            scored(
                "p2",
                T2,
                platform="douyin",
                author_id="u2",
                author_name="上岸老师",
                categories=["debt"],
                score=0.75,
                evidence=[("停息挂账", "debt_phrase")],
                contacts=[wechat(T2, "zw6666")],
                created_at=datetime(2024, 5, 3, 10, 0, tzinfo=UTC),
            ),
            scored(
                "p3",
                HOSTILE,
                author_id="evil",
                author_name='<b onmouseover="alert(3)">坏人</b>',
                score=0.6,
                evidence=[("全额退保", "surrender_phrase")],
                url="javascript:alert(4)",
            ),
            scored(
                "p4",
                T3,
                author_id="u3",
                author_name="路人",
                categories=[],
                score=0.05,
                flagged=False,
            ),
        ],
        [
            AccountRisk(
                platform="weibo",
                account_id="u1",
                nickname="退保小助手",
                bio="专注退保十年 V: tb8888",
                score=0.92,
                flagged=True,
                categories=["surrender"],
                contacts=["wx:tb8888"],
                post_scores={"weibo:p1": 0.9},
                flagged_posts=1,
                total_posts=1,
                reasons=["多次发布代理退保广告"],
                ring="ring-1",
            ),
            AccountRisk(
                platform="douyin",
                account_id="u9",
                nickname="退保小助手二号",
                score=0.8,
                flagged=True,
                categories=["surrender"],
                contacts=["wx:tb8888"],
                ring="ring-1",
            ),
            AccountRisk(
                platform="weibo",
                account_id="evil",
                nickname='<script>alert("nick")</script>',
                bio="<img src=x onerror=alert(5)>",
                score=0.6,
                flagged=True,
            ),
        ],
        [SourceState(name="weibo-sample", posts_total=4)],
    )
