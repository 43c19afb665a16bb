"""``SearchQuery`` → SQL for the SQLite store: filters, full-text match, order, facets.

Every SQL string here is assembled from this module's own fixed fragments; user values
(including the FTS5 MATCH expression, itself built only from quoted tokens by
:func:`pipeline.store.fts.match_expression`) travel as bound parameters.

Semantics both stores share (the contract tests hold them to it):

- the time window is half-open, ``since <= t < until``, on ``created_at`` falling back
  to ``collected_at``;
- a post without a review has status ``new``;
- with a query, hits are ordered by FTS rank, then score; without, by score, then time,
  newest first;
- facets count over the filtered set **ignoring the facet's own filter** (the category
  facet still shows the other categories' counts while one is selected), so a facet can
  be used to switch as well as to narrow; zero counts are left out;
- a query with no searchable term (only punctuation, say) matches nothing.

Shape, for speed (see ``bench/fts.py``): filters and ordering touch only ``posts`` (which
carries copies of the verdict's flagged / score) and the FTS match; the page is chosen
as ids first and only those rows are joined to verdicts and reviews. Reviews are few, so
the status facet walks the reviews and counts "new" as the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.models import ReviewStatus, SearchQuery
from pipeline.store.fts import match_expression, query_terms
from pipeline.store.sqlite_rows import to_text

MAX_PAGE_SIZE = 100
FACETS = ("category", "platform", "status")
_NEW = str(ReviewStatus.NEW)

# With a query the FTS match drives: CROSS JOIN pins it as the outer loop. Left to
# itself the planner may walk the posts and probe the MATCH once per row, measured
# ~50x slower on 5k posts.
_FTS_FROM = """
FROM (SELECT rowid AS id, rank FROM posts_fts WHERE posts_fts MATCH ?) f
CROSS JOIN posts p ON p.id = f.id
"""
_POSTS_FROM = "FROM posts p"
_IN_MATCH = "p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)"


@dataclass(frozen=True)
class _Filter:
    facet: str | None  # which facet this filter belongs to (ignored by that facet)
    sql: str
    params: tuple[object, ...] = ()


@dataclass(frozen=True)
class Statement:
    sql: str
    params: list[object]


@dataclass(frozen=True)
class SearchPlan:
    terms: list[str]  # folded query terms, for highlighting
    matches_nothing: bool
    # None when no platform filter is set: every post has one platform, so the total is
    # the sum of the platform facet, and the FTS match need not run once more.
    count: Statement | None
    page_ids: Statement  # ids of the page's posts, in order
    facets: dict[str, Statement] = field(default_factory=dict)  # (value, count) rows
    # The status facet: (status, count) of reviewed posts, and the total it is taken
    # from (None: the same as the total, when no status filter is set).
    reviewed: Statement | None = None
    status_total: Statement | None = None


def clamp_page(query: SearchQuery) -> tuple[int, int]:
    return max(1, query.page), max(1, min(MAX_PAGE_SIZE, query.page_size))


def _filters(query: SearchQuery) -> list[_Filter]:
    out: list[_Filter] = []
    if query.flagged_only:
        out.append(_Filter(None, "p.flagged = 1"))
    if query.category:
        sql = "EXISTS (SELECT 1 FROM post_categories c WHERE c.post = p.id AND c.category = ?)"
        out.append(_Filter("category", sql, (query.category,)))
    if query.platform:
        out.append(_Filter("platform", "p.platform = ?", (query.platform,)))
    if query.since is not None:
        out.append(_Filter(None, "p.posted_at >= ?", (to_text(query.since),)))
    if query.until is not None:
        out.append(_Filter(None, "p.posted_at < ?", (to_text(query.until),)))
    if query.min_score is not None:
        out.append(_Filter(None, "p.score >= ?", (float(query.min_score),)))
    if query.status is not None:
        out.append(_status_filter(str(query.status)))
    return out


def _status_filter(status: str) -> _Filter:
    if status == _NEW:
        sql = "p.key NOT IN (SELECT target FROM reviews WHERE status != ?)"
    else:
        sql = "p.key IN (SELECT target FROM reviews WHERE status = ?)"
    return _Filter("status", sql, (status,))


def _where(filters: list[_Filter], skip: str | None = None) -> tuple[str, list[object]]:
    kept = [f for f in filters if skip is None or f.facet != skip]
    if not kept:
        return "", []
    params: list[object] = [p for f in kept for p in f.params]
    return "WHERE " + " AND ".join(f.sql for f in kept), params


def plan_search(query: SearchQuery) -> SearchPlan:
    page, size = clamp_page(query)
    has_q = bool(query.q.strip())
    expr = match_expression(query.q) if has_q else None
    base, base_params = (_FTS_FROM, [expr]) if expr else (_POSTS_FROM, [])
    filters = _filters(query)
    where, params = _where(filters)

    order = "p.score DESC, p.posted_at DESC, p.id DESC"
    if expr:
        order = "f.rank, " + order
    count = None
    if query.platform:
        count = Statement(f"SELECT count(*) {base} {where}", base_params + params)
    page_ids = Statement(
        f"SELECT p.id {base} {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*base_params, *params, size, (page - 1) * size],
    )

    facets: dict[str, Statement] = {}
    f_where, f_params = _where(filters, skip="category")
    facets["category"] = Statement(
        f"SELECT c.category, count(*) {base} CROSS JOIN post_categories c ON c.post = p.id"
        f" {f_where} GROUP BY c.category",
        base_params + f_params,
    )
    f_where, f_params = _where(filters, skip="platform")
    facets["platform"] = Statement(
        f"SELECT p.platform, count(*) {base} {f_where} GROUP BY p.platform",
        base_params + f_params,
    )

    # Status: walk the (few) reviews instead of probing reviews for every candidate.
    s_filters = [f for f in filters if f.facet != "status"]
    if expr:
        s_filters.append(_Filter(None, _IN_MATCH, (expr,)))
    s_where, s_params = _where(s_filters)
    s_where = (s_where + " AND" if s_where else "WHERE") + " r.status != ?"
    reviewed = Statement(
        "SELECT r.status, count(*) FROM reviews r CROSS JOIN posts p ON p.key = r.target"  # noqa: S608 (fixed fragments)
        f" {s_where} GROUP BY r.status",
        [*s_params, _NEW],
    )
    status_total = None
    if query.status is not None:
        t_where, t_params = _where(filters, skip="status")
        status_total = Statement(f"SELECT count(*) {base} {t_where}", base_params + t_params)

    return SearchPlan(
        terms=query_terms(query.q) if has_q else [],
        matches_nothing=has_q and expr is None,
        count=count,
        page_ids=page_ids,
        facets=facets,
        reviewed=reviewed,
        status_total=status_total,
    )


def status_facet(total: int, reviewed: dict[str, int]) -> dict[str, int]:
    """Status counts from the reviewed posts' counts and the facet's total: every post
    not reviewed otherwise is ``new``."""
    counts = {status: n for status, n in reviewed.items() if n}
    new = total - sum(counts.values())
    if new > 0:
        counts[_NEW] = new
    return counts
