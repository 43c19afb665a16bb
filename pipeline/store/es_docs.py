"""Structs ⇄ Elasticsearch documents: the one place that knows the document shapes.

A post document carries the ``Post`` and ``Verdict`` as written (opaque objects, never
indexed) for lossless round trips, and beside them flat copies of what is searched,
filtered, sorted and faceted: the detector's hits as exact fields (``categories``,
``features``, ``contacts``), ``flagged``, ``score``, ``platform``, ``posted_at`` and the
review ``status``. The nested ``post`` leaves its ``text`` empty: the flat ``text``
holds it, and the text is most of a document's bytes (the server parses every byte of
every document it indexes). :func:`hit_from_source` puts it back, and still reads
documents written with the text in both places.

Post and account documents are written on every batch, so they are Structs encoded
straight to JSON bytes (:func:`encode`); the rest are small dicts the client encodes.
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
from pipeline.store.es_bulk import encode_source
from pipeline.store.es_mappings import dedupe, iso, utc
from pipeline.store.fts import fold
from pipeline.store.highlight import highlight
from pipeline.store.rings import unsaved

# A reject sample is for a human to recognise the record, not to keep it whole.
MAX_REJECT_SAMPLE = 2_000


def posted_at(post: Post) -> datetime | None:
    """When the post happened as far as we know: what time filters, sorting and the
    monthly index use."""
    return post.created_at or post.collected_at


class PostDoc(msgspec.Struct, kw_only=True, gc=False):
    """A post document's ``_source``; the fields are the posts mapping's
    (:func:`pipeline.store.es_mappings.posts_mappings`).

    A Struct rather than a dict so that :func:`encode` writes it to JSON bytes in one
    call, the nested ``Post`` and ``Verdict`` included (no ``to_builtins`` copy), and
    ``bulk_write`` sends the bytes as they are. Flat datetimes are UTC
    (:func:`pipeline.store.es_mappings.utc`): msgspec writes them as ``iso`` does.
    ``gc=False``: a document refers to no container that could refer back to it.
    """

    key: str
    platform: str
    post_id: str
    account_key: str | None
    author_id: str | None
    author_name: str | None
    source: str
    url: str | None
    text: str
    search_text: str
    created_at: datetime | None
    collected_at: datetime | None
    posted_at: datetime | None
    flagged: bool
    score: float
    categories: list[str]
    features: list[str]
    contacts: list[str]
    status: str
    detector_version: str
    post: Post
    verdict: Verdict


def post_doc(scored: ScoredPost, status: str) -> PostDoc:
    post, verdict = scored.post, scored.verdict
    return PostDoc(
        key=post.key,
        platform=post.platform,
        post_id=post.post_id,
        account_key=post.account_key,
        author_id=post.author_id,
        author_name=post.author_name,
        source=post.source,
        url=post.url,
        text=post.text,
        search_text=fold(post.text),
        created_at=utc(post.created_at),
        collected_at=utc(post.collected_at),
        posted_at=utc(posted_at(post)),
        flagged=bool(verdict.flagged),
        score=float(verdict.score),
        categories=dedupe(verdict.categories),
        features=dedupe([ev.feature for ev in verdict.evidence]),
        contacts=sorted({v for c in verdict.contacts if (v := c.canonical or c.value)}),
        status=status,
        detector_version=verdict.detector_version,
        post=msgspec.structs.replace(post, text=""),  # the flat ``text`` holds it
        verdict=verdict,
    )


def encode(doc: PostDoc | AccountDoc) -> bytes:
    """A document as the JSON bytes of its ``_source`` (what ``_bulk`` sends as is)."""
    return encode_source(doc)


def hit_from_source(source: dict[str, Any], terms: Sequence[str] = ()) -> SearchHit:
    nested = source["post"]
    if not nested.get("text"):  # written without the nested copy of the text
        nested = {**nested, "text": source.get("text") or ""}
    post = msgspec.convert(nested, Post)
    verdict = msgspec.convert(source["verdict"], Verdict)
    return SearchHit(
        post=post,
        verdict=verdict,
        status=ReviewStatus(source.get("status") or ReviewStatus.NEW),
        highlight=highlight(post.text, terms, verdict.evidence),
    )


# _source fields a hit needs (the other flat copies are for the index only).
HIT_SOURCE = ["post", "verdict", "status", "text"]


class AccountDoc(msgspec.Struct, kw_only=True, gc=False):
    """An account document's ``_source`` (the accounts mapping's fields, see
    :func:`pipeline.store.es_mappings.fixed_mappings`); encoded like :class:`PostDoc`."""

    key: str
    platform: str
    account_id: str
    nickname: str | None
    score: float
    flagged: bool
    categories: list[str]
    contacts: list[str]
    ring: str | None
    last_seen: datetime | None
    # The ring job's input beside the contacts: which weak-link inputs the account holds
    # ("template", and "mention" when flagged: what ``ring_inputs`` asks for, indexed),
    # and the post scores of its kept templates (post key → score; not indexed). The
    # template folds and mentions themselves are read from ``account``.
    weak_inputs: list[str]
    template_scores: dict[str, float]
    account: AccountRisk


def _weak_inputs(account: AccountRisk) -> list[str]:
    kinds = ["template"] if account.templates else []
    return [*kinds, "mention"] if account.mentions and account.flagged else kinds


def account_doc(account: AccountRisk) -> AccountDoc:
    """The ring is not the fold's to write: it lives in the rings index (the ring job's),
    and account reads take it from there; a copy here would go stale. So do its weak
    links and template peers."""
    account = unsaved(account)
    scores = account.post_scores
    return AccountDoc(
        key=account.key,
        platform=account.platform,
        account_id=account.account_id,
        nickname=account.nickname,
        score=float(account.score),
        flagged=bool(account.flagged),
        categories=dedupe(account.categories),
        contacts=sorted({c for c in account.contacts if c}),
        ring=None,
        last_seen=utc(account.last_seen),
        weak_inputs=_weak_inputs(account),
        template_scores={k: scores[k] for k in account.templates if k in scores},
        account=account,
    )


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
