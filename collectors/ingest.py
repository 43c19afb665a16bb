"""The ``ingest`` source: vendors and existing crawlers push posts to ``POST /api/ingest``.

There is nothing to poll, so the collector is empty (``push = True`` tells the runner not
to schedule it); what makes it a source is its name (posts are attributed to it, its
counters and health show in ``radar sources``) and its bearer token, read from the
environment variable ``token_env`` so the token never sits in ``radar.toml``.

:func:`parse_batch` turns one request body (a JSON array, an object with ``posts``, or
JSON Lines) into posts and per-line rejects with the same record rules as the ``files``
source, so a vendor sees the same words for the same mistakes.

Example::

    [[sources]]
    kind = "ingest"
    name = "vendor-push"
    token_env = "VENDOR_PUSH_TOKEN"   # the vendor sends: Authorization: Bearer <token>
    platform = "weibo"                # for records without their own ``platform``

    curl -H "Authorization: Bearer $VENDOR_PUSH_TOKEN" -H "Content-Type: application/x-ndjson" \
         --data-binary @posts.jsonl http://127.0.0.1:8600/api/ingest
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from collectors.base import CollectorContext, Page, SourceSettings
from collectors.records import MAX_LINE_BYTES, RecordError, decode_line, post_from_record
from collectors.registry import register
from pipeline.models import Post, Reject

MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_POSTS = 5_000
_SAMPLE_CHARS = 120


class IngestSourceSettings(SourceSettings, kw_only=True, tag="ingest"):
    token_env: str
    platform: str = "ingest"  # for records without a ``platform``
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_batch_posts: int = MAX_BATCH_POSTS
    interval_seconds: float = 3600.0  # unused: push sources are not scheduled


class IngestCollector:
    push = True

    def __init__(self, settings: IngestSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self.settings = settings
        self.context = context

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        return
        yield  # an async generator that yields nothing

    async def aclose(self) -> None:
        return None


class BatchTooLarge(ValueError):
    pass


def parse_batch(
    body: bytes,
    *,
    content_type: str,
    source: str,
    platform: str,
    tz: ZoneInfo,
    max_text_chars: int,
    max_posts: int = MAX_BATCH_POSTS,
) -> tuple[list[Post], list[Reject]]:
    """A JSON array / ``{"posts": [...]}`` or JSON Lines body → posts and rejects.

    Rejects carry ``location`` ``line N`` (JSON Lines) or ``item N`` (JSON), 1-based, so
    the sender can fix exactly those records. Raises :class:`BatchTooLarge` past
    ``max_posts`` records and ``ValueError`` when a JSON body is not JSON at all."""
    now = datetime.now(UTC)
    if _is_json(content_type, body):
        records, label = _json_records(body), "item"
    else:
        records, label = _jsonl_records(body), "line"
    if len(records) > max_posts:
        raise BatchTooLarge(f"{len(records)} records; at most {max_posts} per request")
    posts: list[Post] = []
    rejects: list[Reject] = []
    for index, record in records:
        location = f"{label} {index}"
        if isinstance(record, _Bad):
            rejects.append(_reject(source, location, record.reason, record.sample, now))
            continue
        try:
            posts.append(
                post_from_record(
                    record,
                    source=source,
                    default_platform=platform,
                    tz=tz,
                    max_text_chars=max_text_chars,
                    collected_at=now,
                )
            )
        except RecordError as exc:
            rejects.append(_reject(source, location, str(exc), repr(record), now))
    return posts, rejects


_JSONL_TYPES = ("jsonl", "ndjson", "jsonlines", "json-seq")


def _is_json(content_type: str, body: bytes) -> bool:
    """``application/json`` is one document; JSON Lines types (or none) are per line,
    except a body that starts with ``[`` (a JSON array, whatever the header says)."""
    kind = content_type.lower()
    if any(name in kind for name in _JSONL_TYPES):
        return False
    return "json" in kind or body.lstrip()[:1] == b"["


class _Bad(msgspec.Struct):
    reason: str
    sample: str = ""


def _json_records(body: bytes) -> list[tuple[int, Any]]:
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if isinstance(doc, dict) and isinstance(doc.get("posts"), list):
        doc = doc["posts"]
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise ValueError("expected a JSON array of posts or an object with `posts`")
    return list(enumerate(doc, start=1))


def _jsonl_records(body: bytes) -> list[tuple[int, Any]]:
    records: list[tuple[int, Any]] = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            records.append((number, _Bad(f"line longer than {MAX_LINE_BYTES} bytes")))
            continue
        try:
            text = decode_line(raw).lstrip("\ufeff")
            records.append((number, msgspec.json.decode(text)))
        except RecordError as exc:
            records.append((number, _Bad(str(exc))))
        except msgspec.DecodeError as exc:
            records.append((number, _Bad(f"broken JSON: {exc}", text)))
    return records


def _reject(source: str, location: str, reason: str, sample: str, now: datetime) -> Reject:
    return Reject(
        source=source, location=location, reason=reason, sample=sample[:_SAMPLE_CHARS], at=now
    )


register(IngestSourceSettings, IngestCollector)
