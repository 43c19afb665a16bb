"""Structs ⇄ Elasticsearch documents: the one place that knows the document shapes.

A post document carries the ``Post`` and ``Verdict`` exactly as written (opaque objects,
never indexed) for lossless round trips, and beside them flat copies of what is
searched, filtered, sorted and faceted: the detector's hits as exact fields
(``categories``, ``features``, ``contacts``), ``flagged``, ``score``, ``platform``,
``posted_at`` and the review ``status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from pipeline.models import (
    AccountRisk,
    Post,
    Reject,
    Review,
    ReviewStatus,
    ScoredPost,
    SearchHit,
    SourceState,
    Verdict,
)
from pipeline.store.es_mappings import dedupe, iso
from pipeline.store.fts import fold
from pipeline.store.highlight import highlight

# A reject sample is for a human to recognise the record, not to keep it whole.
MAX_REJECT_SAMPLE = 2_000


def posted_at(post: Post) -> datetime | None:
    """When the post happened as far as we know: what time filters, sorting and the
    monthly index use."""
    return post.created_at or post.collected_at


def post_doc(scored: ScoredPost, status: str) -> dict[str, Any]:
    post, verdict = scored.post, scored.verdict
    return {
        "key": post.key,
        "platform": post.platform,
        "post_id": post.post_id,
        "account_key": post.account_key,
        "author_id": post.author_id,
        "author_name": post.author_name,
        "source": post.source,
        "url": post.url,
        "text": post.text,
        "search_text": fold(post.text),
        "created_at": iso(post.created_at),
        "collected_at": iso(post.collected_at),
        "posted_at": iso(posted_at(post)),
        "flagged": bool(verdict.flagged),
        "score": float(verdict.score),
        "categories": dedupe(verdict.categories),
        "features": dedupe(ev.feature for ev in verdict.evidence),
        "contacts": sorted(set(dedupe(c.canonical or c.value for c in verdict.contacts))),
        "status": status,
        "detector_version": verdict.detector_version,
        "post": msgspec.to_builtins(post),
        "verdict": msgspec.to_builtins(verdict),
    }


def hit_from_source(source: dict[str, Any], terms: Sequence[str] = ()) -> SearchHit:
    post = msgspec.convert(source["post"], Post)
    verdict = msgspec.convert(source["verdict"], Verdict)
    return SearchHit(
        post=post,
        verdict=verdict,
        status=ReviewStatus(source.get("status") or ReviewStatus.NEW),
        highlight=highlight(post.text, terms, verdict.evidence),
    )


# _source fields a hit needs (the flat copies are for the index only).
HIT_SOURCE = ["post", "verdict", "status"]


def account_doc(account: AccountRisk) -> dict[str, Any]:
    return {
        "key": account.key,
        "platform": account.platform,
        "account_id": account.account_id,
        "nickname": account.nickname,
        "score": float(account.score),
        "flagged": bool(account.flagged),
        "categories": dedupe(account.categories),
        "contacts": sorted(set(dedupe(account.contacts))),
        "ring": account.ring,
        "last_seen": iso(account.last_seen),
        "account": msgspec.to_builtins(account),
    }


def account_from_source(source: dict[str, Any]) -> AccountRisk:
    return msgspec.convert(source["account"], AccountRisk)


def checkpoint_doc(state: SourceState) -> dict[str, Any]:
    return {
        "name": state.name,
        "updated_at": iso(state.updated_at),
        "state": msgspec.to_builtins(state),
    }


def checkpoint_from_source(source: dict[str, Any]) -> SourceState:
    return msgspec.convert(source["state"], SourceState)


def review_doc(review: Review, at: str) -> dict[str, Any]:
    return {
        "target": review.target,
        "status": str(review.status),
        "note": review.note,
        "reviewer": review.reviewer,
        "at": at,
    }


def reject_doc(reject: Reject, at: str) -> dict[str, Any]:
    return {
        "source": reject.source,
        "location": reject.location,
        "reason": reject.reason,
        "sample": reject.sample[:MAX_REJECT_SAMPLE],
        "at": at,
    }
