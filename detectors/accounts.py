"""Account risk: fold scored posts into one account, and score whole account files.

Why a fold over state instead of counters: delivery is at-least-once, so the same post
can arrive twice (after a crash, a rebalance, a re-scan). Every figure here is recomputed
from ``AccountRisk.post_scores`` (keyed by post key) and set unions, so folding a post
twice gives exactly the same risk as folding it once.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from detectors.lexicon import load_lexicon
from detectors.rings import find_rings
from pipeline.models import CATEGORIES, AccountRisk, Post, Verdict

if TYPE_CHECKING:
    from detectors.detector import Detector


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """The ``[account]`` section of ``scoring.toml`` plus the post threshold."""

    post_threshold: float = 0.5
    high_score: float = 0.7
    moderate_posts: int = 2
    flagged_post_bonus: float = 0.04
    max_bonus_posts: int = 5
    max_post_scores: int = 500
    max_contacts: int = 50

    @classmethod
    def from_scoring(cls, scoring: dict[str, Any]) -> AccountPolicy:
        a = scoring.get("account", {})
        return cls(
            post_threshold=float(scoring.get("threshold", cls.post_threshold)),
            high_score=float(a.get("high_score", cls.high_score)),
            moderate_posts=int(a.get("moderate_posts", cls.moderate_posts)),
            flagged_post_bonus=float(a.get("flagged_post_bonus", cls.flagged_post_bonus)),
            max_bonus_posts=int(a.get("max_bonus_posts", cls.max_bonus_posts)),
            max_post_scores=int(a.get("max_post_scores", cls.max_post_scores)),
            max_contacts=int(a.get("max_contacts", cls.max_contacts)),
        )


@functools.cache
def default_policy(lexicon_dir: Path | None = None) -> AccountPolicy:
    return AccountPolicy.from_scoring(load_lexicon(lexicon_dir).scoring)


def fold_post(
    risk: AccountRisk | None,
    post: Post,
    verdict: Verdict,
    policy: AccountPolicy | None = None,
) -> AccountRisk:
    """The account's risk after ``post`` (scored as ``verdict``) is taken into account."""
    p = policy or default_policy()
    if risk is None:
        risk = AccountRisk(platform=post.platform, account_id=post.author_id or "")
    score = round(float(verdict.score), 4)
    scores = {k: v for k, v in risk.post_scores.items() if k != post.key}
    scores[post.key] = score
    while len(scores) > p.max_post_scores:  # oldest first: dicts keep insertion order
        del scores[next(iter(scores))]

    flagged_posts = sum(1 for s in scores.values() if s >= p.post_threshold)
    top = max(scores.values())
    extra = min(max(flagged_posts - 1, 0), p.max_bonus_posts)
    account_score = round(min(1.0, top + p.flagged_post_bonus * extra), 4)
    flagged = top >= p.high_score or flagged_posts >= p.moderate_posts

    cats = set(risk.categories) | (set(verdict.categories) if verdict.flagged else set())
    contacts = sorted(set(risk.contacts) | {c.canonical for c in verdict.contacts if c.canonical})
    top_reasons = list(verdict.reasons) if score >= top else list(risk.reasons[1:])
    summary = f"{flagged_posts}/{len(scores)} 条帖子被标记, 最高帖子分 {top:.2f}"

    seen = [t for t in (post.created_at or post.collected_at,) if t is not None]
    first = min([*seen, *([risk.first_seen] if risk.first_seen else [])], default=None)
    last = max([*seen, *([risk.last_seen] if risk.last_seen else [])], default=None)
    return msgspec.structs.replace(
        risk,
        nickname=post.author_name or risk.nickname,
        bio=post.author_bio if post.author_bio is not None else risk.bio,
        score=account_score,
        flagged=flagged,
        categories=[c for c in CATEGORIES if c in cats],
        contacts=contacts[: p.max_contacts],
        post_scores=scores,
        flagged_posts=flagged_posts,
        total_posts=len(scores),
        reasons=[summary, *top_reasons],
        first_seen=first,
        last_seen=last,
    )


def _account_risk(account: dict[str, Any], detector: Detector) -> AccountRisk:
    platform = str(account.get("platform") or "unknown")
    account_id = str(account["account_id"])
    bio = account.get("bio")
    risk = AccountRisk(
        platform=platform, account_id=account_id, nickname=account.get("nickname"), bio=bio
    )
    policy = AccountPolicy.from_scoring(detector.lexicon.scoring)
    for item in account.get("posts") or []:
        post = Post(
            platform=platform,
            post_id=str(item["id"]),
            text=str(item["text"]),
            author_id=account_id,
            author_name=account.get("nickname"),
            author_bio=bio,
        )
        risk = fold_post(risk, post, detector.detect(post.text, bio), policy)
    if bio:  # an account with no posts can still share its bio contact with a ring
        bio_contacts = {c.canonical for c in detector.detect("", bio).contacts}
        merged = sorted(set(risk.contacts) | bio_contacts)[: policy.max_contacts]
        risk = msgspec.structs.replace(risk, contacts=merged)
    return risk


def score_accounts(
    accounts: Iterable[dict[str, Any]], detector: Detector | None = None
) -> list[dict[str, Any]]:
    """``radar scan --accounts``: score each account, then find rings across all of them.

    Each input is ``{"account_id", "platform", "nickname", "bio", "posts": [{"id",
    "text"}]}`` (already validated); outputs keep the input order."""
    if detector is None:
        from detectors.detector import Detector

        detector = Detector()
    risks = [_account_risk(a, detector) for a in accounts]
    rings = find_rings({r.key: set(r.contacts) for r in risks})
    sizes = Counter(rid for rid, _ in rings.values())
    out = []
    for risk in risks:
        reasons = list(risk.reasons)
        ring = rings.get(risk.key)
        if ring:
            others = sizes[ring[0]] - 1
            reasons.append(f"与 {others} 个账号共用联系方式: {', '.join(ring[1][:3])}")
        out.append(
            {
                "account_id": risk.account_id,
                "platform": risk.platform,
                "flagged": risk.flagged,
                "score": round(risk.score, 4),
                "categories": risk.categories,
                "reasons": reasons,
                "ring": ring[0] if ring else None,
            }
        )
    return out
