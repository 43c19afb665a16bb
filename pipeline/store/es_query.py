"""``SearchQuery`` → one Elasticsearch search body (hits, total and the three facets).

The semantics are the SQLite store's (see :mod:`pipeline.store.sqlite_search`), which the
contract tests hold both stores to:

- every query term must occur; each term is a phrase of ``search_text`` (the folded text
  in CJK bigrams, see :mod:`pipeline.store.es_mappings`), so a
  four-character term matches only contiguous text; a one-character CJK term is a phrase
  prefix (it finds the bigrams that start with it, as the SQLite ``"保"*`` does);
- a query with no searchable term (only punctuation) matches nothing;
- the time window is half-open on ``posted_at`` (created_at, else collected_at);
- facets ignore their own filter: the facet filters (category, platform, status) go into
  ``post_filter``, which narrows the hits but not the aggregations, and each facet's
  aggregation applies the *other* facet filters itself; terms aggregations never return
  zero counts;
- with a query, hits are ordered by relevance, then score; without, by score, then time,
  newest first; the post key breaks the remaining ties so pages never overlap.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.models import SearchQuery
from pipeline.store import fts
from pipeline.store.es_docs import HIT_SOURCE
from pipeline.store.es_mappings import iso
from pipeline.store.fts import query_terms

MAX_PAGE_SIZE = 100
# from + size beyond this is refused by Elasticsearch (index.max_result_window).
MAX_RESULT_WINDOW = 10_000
FACET_FIELDS = {"category": "categories", "platform": "platform", "status": "status"}
# Buckets per facet: five categories and five statuses exist; platforms are tens. Kept
# tight because a terms aggregation's cost grows with its size (osmem: 50 ms at 10,
# 150 ms at 500 over 8k posts).
FACET_SIZES = {"category": 20, "platform": 200, "status": 20}
SEARCH_FIELD = "search_text"
# The scripts fts pairs into bigrams: a lone character of these is a bigram prefix.
_ONE_CJK = re.compile(f"[{fts._CJK}]")


def clamp_page(query: SearchQuery) -> tuple[int, int]:
    return max(1, query.page), max(1, min(MAX_PAGE_SIZE, query.page_size))


def term_clause(term: str) -> dict[str, Any]:
    if len(term) == 1 and _ONE_CJK.fullmatch(term):
        return {"match_phrase_prefix": {SEARCH_FIELD: {"query": term}}}
    return {"match_phrase": {SEARCH_FIELD: {"query": term}}}


def _facet_filters(query: SearchQuery) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if query.category:
        out["category"] = {"term": {"categories": query.category}}
    if query.platform:
        out["platform"] = {"term": {"platform": query.platform}}
    if query.status is not None:
        out["status"] = {"term": {"status": str(query.status)}}
    return out


def _base_filters(query: SearchQuery) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if query.flagged_only:
        out.append({"term": {"flagged": True}})
    window: dict[str, str] = {}
    if query.since is not None:
        window["gte"] = iso(query.since) or ""
    if query.until is not None:
        window["lt"] = iso(query.until) or ""
    if window:
        out.append({"range": {"posted_at": window}})
    if query.min_score is not None:
        out.append({"range": {"score": {"gte": float(query.min_score)}}})
    return out


def _all(filters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def search_body(query: SearchQuery) -> tuple[list[str], dict[str, Any] | None]:
    """``(terms, body)`` for ``client.search(**body)``; body is None when the query has
    no searchable term and so matches nothing."""
    has_q = bool(query.q.strip())
    terms = query_terms(query.q) if has_q else []
    if has_q and not terms:
        return terms, None
    page, size = clamp_page(query)
    start = (page - 1) * size
    size = max(0, min(size, MAX_RESULT_WINDOW - start))
    facets = _facet_filters(query)
    sort: list[Any] = [{"score": "desc"}, {"posted_at": {"order": "desc", "missing": "_last"}}]
    if terms:
        sort.insert(0, {"_score": "desc"})
    sort.append({"key": "desc"})
    body: dict[str, Any] = {
        "query": {
            "bool": {
                "must": [term_clause(t) for t in terms] or [{"match_all": {}}],
                "filter": _base_filters(query),
            }
        },
        "sort": sort,
        "from_": min(start, MAX_RESULT_WINDOW),
        "size": size,
        "track_total_hits": True,
        "source_includes": HIT_SOURCE,
        "aggs": {name: _facet_agg(name, facets) for name in FACET_FIELDS},
    }
    if facets:
        body["post_filter"] = _all(list(facets.values()))
    return terms, body


def _facet_agg(name: str, facets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A terms aggregation under the other facets' filters (a bare one when there are
    none: the ``filter`` wrapper costs time even when it matches everything)."""
    terms = {"terms": {"field": FACET_FIELDS[name], "size": FACET_SIZES[name]}}
    others = [f for other, f in facets.items() if other != name]
    if not others:
        return terms
    return {"filter": _all(others), "aggs": {"values": terms}}


def facet_counts(aggregations: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name in FACET_FIELDS:
        agg = aggregations.get(name) or {}
        buckets = agg.get("values", agg).get("buckets", [])
        out[name] = {str(b["key"]): int(b["doc_count"]) for b in buckets if b["doc_count"]}
    return out


def empty_facets() -> dict[str, dict[str, int]]:
    return {name: {} for name in FACET_FIELDS}
