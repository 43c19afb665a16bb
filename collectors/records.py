"""Turning one input record (a JSON object or CSV row) into a :class:`Post`.

Shared by the ``files`` source, the sample feed and ``radar scan``, so every way in
accepts the same fields (DESIGN.md's ``radar scan`` input) and rejects the same things
with the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.models import MAX_BIO_CHARS, Post

# A JSON line longer than this is rejected before parsing: no real post is 4 MiB, and
# parsing it would stall the source for everyone behind it.
MAX_LINE_BYTES = 4 * 1024 * 1024
_OPTIONAL_TEXT = ("author_id", "author_name", "author_bio", "url", "platform")


class RecordError(ValueError):
    """Why one record cannot become a post (a short English phrase, used in reports)."""


def decode_line(raw: bytes, encoding: str = "utf-8") -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        hint = " (wrong encoding? set the source's `encoding`)" if encoding == "utf-8" else ""
        raise RecordError(f"invalid {encoding} at byte {exc.start}{hint}") from None


def _as_id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"`{field}` must be a string or integer")
    text = str(value).strip()
    if not text:
        raise RecordError(f"`{field}` is empty")
    return text


def parse_time(value: Any, tz: ZoneInfo) -> datetime:
    """ISO 8601 strings (naive ones are local to ``tz``), or unix seconds / milliseconds."""
    if isinstance(value, bool):
        raise RecordError("`created_at` must be a time")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise RecordError(f"`created_at` out of range: {value}") from None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_time(int(text), tz)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RecordError(f"`created_at` is not ISO 8601 or unix time: {text[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.astimezone(UTC)
    raise RecordError("`created_at` must be a string or a number")


def post_from_record(
    record: Any,
    *,
    source: str,
    default_platform: str,
    tz: ZoneInfo,
    max_text_chars: int,
    collected_at: datetime | None = None,
) -> Post:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "id" not in record:
        raise RecordError("missing `id`")
    if "text" not in record:
        raise RecordError("missing `text`")
    post_id = _as_id(record["id"], "id")
    text = record["text"]
    if not isinstance(text, str):
        raise RecordError("`text` must be a string")
    if not text.strip():
        raise RecordError("`text` is empty")
    fields: dict[str, str | None] = {}
    for field in _OPTIONAL_TEXT:
        value = record.get(field)
        if value is None or value == "":
            fields[field] = None
        elif isinstance(value, str | int) and not isinstance(value, bool):
            fields[field] = str(value)
        else:
            raise RecordError(f"`{field}` must be a string")
    created_raw = record.get("created_at")
    created_at = None if created_raw in (None, "") else parse_time(created_raw, tz)
    truncated = len(text) > max_text_chars
    bio = fields["author_bio"]
    return Post(
        platform=fields["platform"] or default_platform,
        post_id=post_id,
        text=text[:max_text_chars],
        source=source,
        author_id=fields["author_id"],
        author_name=fields["author_name"],
        author_bio=bio[:MAX_BIO_CHARS] if bio else None,
        url=fields["url"],
        created_at=created_at,
        created_raw=None if created_raw in (None, "") else str(created_raw),
        collected_at=collected_at or datetime.now(UTC),
        truncated=truncated,
    )
