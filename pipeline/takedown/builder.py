"""Confirmed accounts and their posts → one takedown list per platform (pure: no I/O).

Only a human's ``confirmed`` decision puts an account on a list. A list that wrongly
names a genuine complainant is the costliest mistake this system can make, so the
builder re-checks what the store said: the review must be ``confirmed`` and made by a
person (the machine reviewers ``radar-*`` and ``takedown-list`` never confirm), and a
post an investigator dismissed is never shown as evidence.

Idempotent: listed accounts become ``reported`` (the job marks them), so a second run
finds nothing to list; and an account already on a list made *after* its confirmation
(the job stopped between saving that list and marking it) is returned as a leftover to
mark with that list's id, never listed twice. The list id hashes its accounts and their
confirmation times, so re-running the same day rewrites the same list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pipeline.models import (
    CATEGORY_LABELS_ZH,
    TAKEDOWN_MAX_EVIDENCE,
    AccountRisk,
    ReviewStatus,
    SearchHit,
    TakedownEntry,
    TakedownEvidence,
    TakedownList,
    TakedownSummary,
)
from pipeline.takedown.data import profile_url

# Reviewers that are this system itself: their decisions are never a human confirmation.
MACHINE_REVIEWER = re.compile(r"^(?:radar-.*|takedown-list)$")
MAX_REASONS = 5
EXCERPT_CHARS = 120
_EXCERPT_BEFORE = 30
_SPACES = re.compile(r"\s+")


@dataclass
class TakedownPlan:
    """What one run produces: new lists, and leftovers (account key → the id of the list
    that already holds it) to mark ``reported`` without listing again."""

    lists: list[TakedownList] = field(default_factory=list)
    leftovers: dict[str, str] = field(default_factory=dict)


def human_confirmed(account: AccountRisk) -> bool:
    review = account.review
    return (
        review is not None
        and review.status == ReviewStatus.CONFIRMED
        and MACHINE_REVIEWER.match(review.reviewer or "") is None
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _posted(hit: SearchHit) -> float:
    when = hit.post.created_at or hit.post.collected_at
    return _utc(when).timestamp() if when else 0.0


def excerpt(hit: SearchHit, width: int = EXCERPT_CHARS) -> str:
    """About ``width`` characters of the post around its first evidence span, on one line.
    Cut from the original text first (evidence offsets index it), then folded."""
    text = hit.post.text
    first = min((ev.start for ev in hit.verdict.evidence), default=0)
    start = max(0, min(first - _EXCERPT_BEFORE, len(text) - width))
    end = min(len(text), start + width)
    body = _SPACES.sub(" ", text[start:end]).strip()
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


def pick_evidence(hits: Iterable[SearchHit], limit: int = TAKEDOWN_MAX_EVIDENCE) -> list[SearchHit]:
    """The account's strongest flagged posts, newest first among equals; never a post an
    investigator dismissed."""
    usable = [h for h in hits if h.verdict.flagged and h.status != ReviewStatus.DISMISSED]
    usable.sort(key=lambda h: (-h.verdict.score, -_posted(h), h.post.key))
    return usable[:limit]


def _dedupe(values: Iterable[str], limit: int | None = None) -> list[str]:
    out = list(dict.fromkeys(v for v in values if v))
    return out if limit is None else out[:limit]


def build_entry(account: AccountRisk, hits: Sequence[SearchHit]) -> TakedownEntry:
    evidence = pick_evidence(hits)
    review = account.review
    categories = account.categories or [c for h in evidence for c in h.verdict.categories]
    reasons = account.reasons or [r for h in evidence for r in h.verdict.reasons]
    contacts = [*account.contacts] + [
        c.canonical or f"{c.kind}:{c.value}" for h in evidence for c in h.verdict.contacts
    ]
    nickname = account.nickname or next(
        (h.post.author_name for h in evidence if h.post.author_name), None
    )
    return TakedownEntry(
        key=account.key,
        platform=account.platform,
        account_id=account.account_id,
        nickname=nickname,
        profile_url=profile_url(account.platform, account.account_id),
        score=round(max([account.score, *(h.verdict.score for h in evidence)]), 4),
        categories=[CATEGORY_LABELS_ZH.get(c, c) for c in _dedupe(categories)],
        reasons=_dedupe(reasons, MAX_REASONS),
        contacts=_dedupe(contacts),
        evidence=[
            TakedownEvidence(
                post_key=h.post.key,
                url=h.post.url,
                excerpt=excerpt(h),
                score=round(h.verdict.score, 4),
                posted_at=h.post.created_at or h.post.collected_at,
            )
            for h in evidence
        ],
        confirmed_by=review.reviewer if review else "",
        confirmed_at=review.at if review else None,
    )


def platform_slug(platform: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", platform.lower()).strip("-")[:40] or "unknown"


def list_id(platform: str, entries: Sequence[TakedownEntry], now: datetime, tz: ZoneInfo) -> str:
    lines = sorted(
        f"{e.key}|{_utc(e.confirmed_at).isoformat() if e.confirmed_at else ''}" for e in entries
    )
    digest = hashlib.blake2b("\n".join(lines).encode(), digest_size=4).hexdigest()
    return f"{_utc(now).astimezone(tz):%Y-%m-%d}-{platform_slug(platform)}-{digest}"


def _period(entries: Sequence[TakedownEntry], now: datetime, tz: ZoneInfo) -> str:
    times = [_utc(e.confirmed_at) for e in entries if e.confirmed_at]
    end = f"{_utc(now).astimezone(tz):%Y-%m-%d}"
    return f"{min(times).astimezone(tz):%Y-%m-%d}~{end}" if times else end


def _holding_list(account: AccountRisk, previous: Sequence[TakedownSummary]) -> str | None:
    """The id of a list made after this account's confirmation that already names it."""
    confirmed = account.review.at if account.review else None
    if confirmed is None:
        return None
    for summary in previous:
        if account.key in summary.accounts and _utc(summary.created_at) >= _utc(confirmed):
            return summary.id
    return None


def build_takedown_lists(
    accounts: Iterable[AccountRisk],
    posts: Mapping[str, Sequence[SearchHit]],
    *,
    now: datetime,
    tz: ZoneInfo,
    previous: Sequence[TakedownSummary] = (),
) -> TakedownPlan:
    """One list per platform of the human-confirmed ``accounts`` (``posts`` maps an
    account key to its posts); platforms with nothing to list get no list."""
    plan = TakedownPlan()
    by_platform: dict[str, list[TakedownEntry]] = {}
    seen: set[str] = set()
    for account in accounts:
        if not human_confirmed(account) or account.key in seen:
            continue
        seen.add(account.key)
        holding = _holding_list(account, previous)
        if holding is not None:
            plan.leftovers[account.key] = holding
            continue
        entry = build_entry(account, posts.get(account.key, ()))
        by_platform.setdefault(account.platform, []).append(entry)
    for platform in sorted(by_platform):
        entries = sorted(by_platform[platform], key=lambda e: (-e.score, e.key))
        plan.lists.append(
            TakedownList(
                id=list_id(platform, entries, now, tz),
                platform=platform,
                created_at=_utc(now),
                period=_period(entries, now, tz),
                entries=entries,
            )
        )
    return plan
