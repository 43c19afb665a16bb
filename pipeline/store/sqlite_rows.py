"""Structs ⇄ SQLite rows for the SQLite store: the one place that knows the column order.

Times are stored as UTC text with a fixed width (``2025-03-14T08:00:00.000000Z``) so that
text comparison is time comparison: since/until filters and "newest first" use plain
indexes. A naive datetime is taken to be UTC (``Post.created_at`` is documented as UTC),
so it comes back timezone-aware.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from pipeline.models import (
    AccountRisk,
    Contact,
    Evidence,
    Post,
    ReviewStatus,
    ScoredPost,
    SearchHit,
    SourceState,
    Verdict,
)
from pipeline.store.highlight import highlight
from pipeline.store.rings import unsaved, with_ring
from pipeline.store.sqlite_sets import RowsInsert

_encode = msgspec.json.Encoder().encode
_str_list = msgspec.json.Decoder(list[str])
_evidence_list = msgspec.json.Decoder(list[Evidence])
_contact_list = msgspec.json.Decoder(list[Contact])
_account = msgspec.json.Decoder(AccountRisk)
_keys = msgspec.json.Decoder(list[str])
_source_state = msgspec.json.Decoder(SourceState)
_counts = msgspec.json.Decoder(dict[str, int]).decode

# A reject sample is for a human to recognise the record, not to keep it whole.
MAX_REJECT_SAMPLE = 2_000


_WHOLE_SECONDS = len('"2025-03-14T08:00:00Z"')


def to_text(value: datetime | None) -> str | None:
    """Fixed-width UTC text, so that comparing text compares time.

    Written by msgspec's encoder, which prints a UTC time as RFC 3339 in C: ~0.7 µs a
    call here, where ``isoformat`` took 3-5 µs, and a worker makes three per post (the
    post's two times, its account's last one). msgspec leaves the fraction out of whole
    seconds, and a shorter text would sort after a longer one of the same second
    ("…:00Z" > "…:00.5Z"), so the fraction is put back."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    quoted = _encode(value).decode()
    if len(quoted) == _WHOLE_SECONDS:
        return quoted[1:-2] + ".000000Z"
    return quoted[1:-1]


def from_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def json_list(values: Sequence[object]) -> str:
    """A JSON array parameter, for ``IN (SELECT value FROM json_each(?))``: any number of
    keys in one bound parameter instead of SQL built to the length of the list."""
    return _encode(list(values)).decode()


def now_text() -> str:
    return to_text(datetime.now(UTC)) or ""


POST_COLUMNS = (
    "key", "platform", "post_id", "account_key", "author_id", "author_name", "author_bio",
    "url", "text", "created_at", "created_raw", "collected_at", "source", "truncated",
    "flagged", "score", "counts",
)  # fmt: skip
POST_KEY, POST_TEXT = POST_COLUMNS.index("key"), POST_COLUMNS.index("text")
UPSERT_POSTS = RowsInsert(
    f"INSERT INTO posts ({', '.join(POST_COLUMNS)})",
    len(POST_COLUMNS),
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in POST_COLUMNS if c != "key"),
)


def post_params(scored: ScoredPost) -> tuple[object, ...]:
    """A post row, in :data:`POST_COLUMNS` order."""
    post = scored.post
    return (
        post.key,
        post.platform,
        post.post_id,
        post.account_key,
        post.author_id,
        post.author_name,
        post.author_bio,
        post.url,
        post.text,
        to_text(post.created_at),
        post.created_raw,
        to_text(post.collected_at),
        post.source,
        int(post.truncated),
        int(scored.verdict.flagged),
        float(scored.verdict.score),
        None if post.counts is None else _encode(post.counts).decode(),
    )


UPSERT_VERDICTS = RowsInsert(
    """INSERT INTO verdicts (post_key, flagged, score, categories, evidence, contacts,
    reasons, detector_version)""",
    8,
    """ON CONFLICT (post_key) DO UPDATE SET
    flagged = excluded.flagged, score = excluded.score, categories = excluded.categories,
    evidence = excluded.evidence, contacts = excluded.contacts, reasons = excluded.reasons,
    detector_version = excluded.detector_version""",
)


def verdict_params(key: str, verdict: Verdict) -> tuple[object, ...]:
    return (
        key,
        int(verdict.flagged),
        float(verdict.score),
        _encode(verdict.categories).decode(),
        _encode(verdict.evidence).decode(),
        _encode(verdict.contacts).decode(),
        _encode(verdict.reasons).decode(),
        verdict.detector_version,
    )


def contact_rows(scored: ScoredPost) -> list[tuple[str, str, str]]:
    """``(canonical, post_key, account_key)`` rows for the contacts table."""
    account = scored.post.account_key or ""
    canon = {c.canonical or c.value for c in scored.verdict.contacts}
    return [(c, scored.post.key, account) for c in sorted(canon) if c]


UPSERT_ACCOUNTS = RowsInsert(
    "INSERT INTO accounts (key, platform, account_id, score, flagged, ring, last_seen, data)",
    8,
    """ON CONFLICT (key) DO UPDATE SET
    platform = excluded.platform, account_id = excluded.account_id, score = excluded.score,
    flagged = excluded.flagged, ring = excluded.ring, last_seen = excluded.last_seen,
    data = excluded.data""",
)
ACCOUNT_KEY = 0  # the key's place in an account row


def account_params(account: AccountRisk) -> tuple[object, ...]:
    """The ring is not part of a written risk: it lives in ``ring_members`` (migration
    0005, the template peers in ``template_peers``, 0006), so whatever ring a fold
    carried is dropped here."""
    account = unsaved(account)
    return (
        account.key,
        account.platform,
        account.account_id,
        float(account.score),
        int(account.flagged),
        None,
        to_text(account.last_seen),
        _encode(account).decode(),
    )


# Every account read joins what the ring job saved: ``SELECT a.data, {RING_COLUMNS}
# FROM accounts a {RING_JOIN}`` (migrations 0005, 0006), decoded by decode_account.
RING_COLUMNS = "m.ring, m.weak, t.peers"
RING_JOIN = (
    "LEFT JOIN ring_members m ON m.account_key = a.key"
    " LEFT JOIN template_peers t ON t.account_key = a.key"
)


def decode_account(
    data: str, ring: str | None, weak: str | None = None, peers: str | None = None
) -> AccountRisk:
    """A stored risk with what the ring job saved for it (joined by the query): its ring,
    the weak links that attached it (JSON), its template peers (JSON)."""
    return with_ring(
        _account.decode(data),
        ring,
        _keys.decode(weak) if weak else (),
        _keys.decode(peers) if peers else (),
    )


UPSERT_CHECKPOINTS = RowsInsert(
    "INSERT INTO checkpoints (source, state, updated_at)",
    3,
    "ON CONFLICT (source) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
)


def checkpoint_params(state: SourceState) -> tuple[object, ...]:
    return (state.name, _encode(state).decode(), to_text(state.updated_at))


def decode_source_state(data: str) -> SourceState:
    return _source_state.decode(data)


# The columns every SearchHit is built from; queries select them under these names.
HIT_COLUMNS = """
    p.platform, p.post_id, p.text, p.source, p.author_id, p.author_name, p.author_bio, p.url,
    p.created_at, p.created_raw, p.collected_at, p.truncated, p.counts,
    v.flagged, v.score, v.categories, v.evidence, v.contacts, v.reasons, v.detector_version,
    coalesce(r.status, 'new') AS status
"""
HIT_FROM = """
FROM posts p
JOIN verdicts v ON v.post_key = p.key
LEFT JOIN reviews r ON r.target = p.key
"""


def hit_from_row(row: sqlite3.Row, terms: Sequence[str] = ()) -> SearchHit:
    post = Post(
        platform=row["platform"],
        post_id=row["post_id"],
        text=row["text"],
        source=row["source"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        author_bio=row["author_bio"],
        url=row["url"],
        created_at=from_text(row["created_at"]),
        created_raw=row["created_raw"],
        collected_at=from_text(row["collected_at"]),
        truncated=bool(row["truncated"]),
        counts=None if row["counts"] is None else _counts(row["counts"]),
    )
    verdict = Verdict(
        flagged=bool(row["flagged"]),
        score=row["score"],
        categories=_str_list.decode(row["categories"]),
        evidence=_evidence_list.decode(row["evidence"]),
        contacts=_contact_list.decode(row["contacts"]),
        reasons=_str_list.decode(row["reasons"]),
        detector_version=row["detector_version"],
    )
    return SearchHit(
        post=post,
        verdict=verdict,
        status=ReviewStatus(row["status"]),
        highlight=highlight(post.text, terms, verdict.evidence),
    )
