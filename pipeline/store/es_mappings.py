"""Index names, the posts index template and the fixed indices' mappings.

Posts live in monthly indices ``{prefix}-posts-YYYY.MM`` chosen by the post's own time
(``created_at``, else ``collected_at``), all joined to the read alias ``{prefix}-posts``
by the template. Not rollover: rollover picks the index by *arrival*, so a re-delivered
post would land in a newer index beside its first copy and ``_id`` would no longer make
writes idempotent. Accounts, reviews, checkpoints and rejects are small and keyed by
identity, so their indices never roll over.

Text analysis: the ``text`` field uses IK (``ik_max_word`` to index, ``ik_smart`` to
search) when every node has the IK plugin, else the built-in ``cjk`` analyzer; it is
there for people exploring in Kibana, with a ``keyword`` subfield. The store's own
queries use ``search_text``: the text folded by :func:`pipeline.store.fts.fold` (NFKC +
lower case, the SQLite store's folding) on the client, analysed by ``radar_cjk``, the
``cjk`` analyzer's chain (standard tokenizer, ``cjk_width``, ``lowercase``,
``cjk_bigram``) without its English stop words and with punctuation turned into spaces
first. Both halves were needed to find what the SQLite store finds:

- the char filter: the standard tokenizer keeps ``vx：tb2025`` as one token (the colon is
  a "MidLetter" in Unicode word breaking), so ``vx`` would not find it, while
  :mod:`pipeline.store.fts` splits there;
- folding before indexing: NFKC folds more than ``cjk_width`` (①, ligatures), and osmem
  indexed full-width digits (``ｔｂ２５``) unfolded although its ``_analyze`` folds them.

``tests/store/test_es_parity.py`` checks the two stores against each other on generated
text and queries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

TEMPLATE_PRIORITY = 200
# The fixed (never rolling) indices, by role.
FIXED = ("accounts", "reviews", "review-history", "checkpoints", "rejects")

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_OPAQUE = {"type": "object", "enabled": False}  # stored in _source, never indexed
_NAME = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
SEARCH_TEXT = {"type": "text", "analyzer": "radar_cjk"}

ANALYSIS: dict[str, Any] = {
    "char_filter": {
        "radar_separators": {
            "type": "pattern_replace",
            "pattern": "[^\\p{L}\\p{N}]+",
            "replacement": " ",
        }
    },
    "analyzer": {
        "radar_cjk": {
            "type": "custom",
            "char_filter": ["radar_separators"],
            "tokenizer": "standard",
            "filter": ["cjk_width", "lowercase", "cjk_bigram"],
        }
    },
}


def has_ik(nodes_info: dict[str, Any]) -> bool:
    """True when every node of a ``GET _nodes/plugins`` answer has the IK plugin
    (``analysis-ik`` / ``opensearch-analysis-ik``); an index using IK fails to allocate on
    a node without it."""
    nodes = (nodes_info or {}).get("nodes") or {}
    if not nodes:
        return False
    return all(
        any("analysis-ik" in str(p.get("name", "")) for p in node.get("plugins") or [])
        for node in nodes.values()
    )


def text_field(ik: bool) -> dict[str, Any]:
    field: dict[str, Any] = {
        "type": "text",
        "fields": {
            "keyword": {"type": "keyword", "ignore_above": 256},
        },
    }
    if ik:
        field.update(analyzer="ik_max_word", search_analyzer="ik_smart")
    else:
        field["analyzer"] = "cjk"
    return field


def posts_mappings(ik: bool) -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "properties": {
            "key": _KEYWORD,
            "platform": _KEYWORD,
            "post_id": _KEYWORD,
            "account_key": _KEYWORD,
            "author_id": _KEYWORD,
            "author_name": _NAME,
            "source": _KEYWORD,
            "url": {"type": "keyword", "index": False, "doc_values": False},
            "text": text_field(ik),
            "search_text": SEARCH_TEXT,  # fts.fold(text): what the store's queries match
            "created_at": _DATE,
            "collected_at": _DATE,
            "posted_at": _DATE,  # created_at, else collected_at: filters and sorting
            "flagged": {"type": "boolean"},
            "score": {"type": "double"},
            "categories": _KEYWORD,
            "features": _KEYWORD,  # evidence feature names
            "contacts": _KEYWORD,  # canonical contacts
            "status": _KEYWORD,  # review status, denormalised from the reviews index
            "detector_version": _KEYWORD,
            "post": _OPAQUE,  # the Post and Verdict exactly as written, for round trips
            "verdict": _OPAQUE,
        },
    }


def posts_template(prefix: str, ik: bool) -> dict[str, Any]:
    """Keyword arguments for ``indices.put_index_template`` of the monthly posts indices."""
    return {
        "name": f"{prefix}-posts",
        "index_patterns": [f"{prefix}-posts-*"],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {"analysis": ANALYSIS},
            "mappings": posts_mappings(ik),
            "aliases": {posts_alias(prefix): {}},
        },
        "meta": {"managed_by": "heichan-radar", "ik": ik},
    }


def fixed_mappings(role: str) -> dict[str, Any]:
    """Mappings of one never-rolling index (``role`` in :data:`FIXED`)."""
    props: dict[str, dict[str, Any]]
    if role == "accounts":
        props = {
            "key": _KEYWORD,
            "platform": _KEYWORD,
            "account_id": _KEYWORD,
            "nickname": _NAME,
            "score": {"type": "double"},
            "flagged": {"type": "boolean"},
            "categories": _KEYWORD,
            "contacts": _KEYWORD,
            "ring": _KEYWORD,
            "last_seen": _DATE,
            "weak_inputs": _KEYWORD,  # the ring job's query: holds templates / mentions
            "template_scores": _OPAQUE,
            "account": _OPAQUE,
        }
    elif role in ("reviews", "review-history"):
        props = {
            "target": _KEYWORD,
            "status": _KEYWORD,
            "note": {"type": "text"},
            "reviewer": _KEYWORD,
            "at": _DATE,
        }
    elif role == "checkpoints":
        props = {"name": _KEYWORD, "updated_at": _DATE, "state": _OPAQUE}
    elif role == "rejects":
        props = {
            "source": _KEYWORD,
            "location": _KEYWORD,
            "reason": {"type": "text"},
            "sample": {"type": "text", "index": False},
            "at": _DATE,
        }
    else:
        raise ValueError(f"unknown index role {role!r}")
    return {"dynamic": "strict", "properties": props}


def posts_alias(prefix: str) -> str:
    return f"{prefix}-posts"


def fixed_index(prefix: str, role: str) -> str:
    return f"{prefix}-{role}"


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are UTC (as ``Post.created_at`` documents)."""
    tz = value.tzinfo
    if tz is UTC:  # the common case, on every post write: skip the conversion
        return value
    return value.replace(tzinfo=UTC) if tz is None else value.astimezone(UTC)


def utc(value: datetime | None) -> datetime | None:
    """:func:`as_utc` for optional values. msgspec encodes a ``UTC`` datetime exactly as
    :func:`iso` writes it (``…Z``, microseconds only when set), so documents encoded by
    msgspec can hold datetimes instead of pre-formatted strings."""
    return None if value is None else as_utc(value)


def month_index(prefix: str, when: datetime | None) -> str:
    """The monthly posts index for a post time (UTC month); undated posts share one."""
    if when is None:
        return f"{prefix}-posts-undated"
    when = as_utc(when)
    return _month_index(prefix, when.year, when.month)


@functools.lru_cache(maxsize=4096)
def _month_index(prefix: str, year: int, month: int) -> str:
    # Cached: a batch's posts fall in a few months, and formatting the name cost about
    # a microsecond per post written (strftime several).
    return f"{prefix}-posts-{year}.{month:02d}"


def iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat().replace("+00:00", "Z")


def dedupe(values: Iterable[str | None]) -> list[str]:
    """The values once each, in first-seen order, without empty ones (``""``, ``None``)."""
    seen = dict.fromkeys(values)  # no generator: this runs a few times per post written
    seen.pop("", None)
    seen.pop(None, None)
    return list(seen)  # type: ignore[arg-type]
