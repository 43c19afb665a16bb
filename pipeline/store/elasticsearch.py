"""The scale-out store: :class:`pipeline.store.base.Store` on Elasticsearch (8.x / 9.x
servers through the official 8.x async client, or OpenSearch-compatible servers with
``compat = "opensearch"``).

Layout (see :mod:`pipeline.store.es_mappings`): posts in monthly indices picked by the
post's own time behind the read alias ``{prefix}-posts``; accounts, reviews (+ history),
checkpoints, rejects and rings in indices that never roll over. Every write is keyed by identity
(``_id`` = post key / account key / source name / review target), so re-delivered
batches overwrite instead of duplicating.

``write_batch`` in two steps, each one or more ``_bulk`` requests: first posts and accounts,
then, only when every one of them succeeded, the checkpoints, so a checkpoint never runs
ahead of its posts. Durable on return: Elasticsearch acknowledges an operation once it is
in the translog (default ``translog.durability=request``: fsynced per request). Visible on
return with ``refresh = "wait_for"`` (read after write); the default ``"false"`` returns
once durable and lets search see the batch within ``refresh_interval``, because waiting
caps a worker at a batch per refresh (see the settings). Reviews always wait for the
refresh: an investigator's click must show at once.
Unlike SQLite the first step is not atomic: a failure can leave part of a batch written;
the runner retries the whole batch and the idempotent ids absorb the part already in.

A post whose time changes month (a platform corrects ``created_at``, or a post first seen
undated gets a date): before indexing, the batch looks its keys up through the alias and
deletes any copy in another monthly index in the same ``_bulk``; a copy left behind by a
crash between the two is found and deleted by the retry.

Review status is denormalised onto the post document (``status``) so that it filters and
facets with the rest; the reviews index stays the record. ``set_review`` writes the review,
then updates the post by ``_id`` in its monthly index; ``write_batch`` re-reads the
reviews of the posts it writes, so a re-delivered post keeps its status. A review saved
in the instant between those two reads and the bulk write can be overwritten with the
previous status until the next write or review of that post (rare: investigators review
posts that were written long before).

When Elasticsearch cannot be reached (or answers 429/5xx after the client's retries),
every method raises :class:`StoreUnavailable`; the runner retries writes with backoff,
and the client reconnects by itself once the cluster is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, BadRequestError, NotFoundError

from pipeline.models import (
    AccountLinks,
    AccountRisk,
    Reject,
    Review,
    ReviewStatus,
    Ring,
    ScoredPost,
    SearchHit,
    SearchQuery,
    SearchResult,
    SourceState,
    StoreStats,
    TakedownList,
    TakedownSummary,
    account_key,
    account_review_target,
)
from pipeline.store import es_docs as docs
from pipeline.store import es_rings, es_takedown
from pipeline.store.base import RingMembership
from pipeline.store.es_bulk import (
    Action,
    bulk_write,
    delete_action,
    encode_source,
    index_action,
)
from pipeline.store.es_errors import StoreUnavailable, StoreWriteError, guard
from pipeline.store.es_mappings import (
    FIXED,
    fixed_index,
    fixed_mappings,
    has_ik,
    iso,
    month_index,
    posts_alias,
    posts_template,
)
from pipeline.store.es_query import empty_facets, facet_counts, search_body
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import RETRY_STATUSES, make_client

log = logging.getLogger(__name__)

__all__ = ["ElasticsearchStore", "StoreUnavailable", "StoreWriteError"]

# Keys per lookup request (ids query / mget) when a batch is large.
_LOOKUP_CHUNK = 1_000
# Upper bound on accounts linked by one contact lookup (a shared contact links a ring,
# not thousands of accounts; beyond this the answer would be useless anyway).
_MAX_LINKED = 10_000
_MISSING = {"ignore_unavailable": True, "allow_no_indices": True}
# What the write path's lookups read of their replies (the server trims the rest).
_HIT_IDS = "hits.hits._id,hits.hits._index"
_DOC_STATUSES = "docs._id,docs.found,docs._source.status"


def _chunks(keys: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(keys), _LOOKUP_CHUNK):
        yield list(keys[i : i + _LOOKUP_CHUNK])


def _now() -> str:
    return iso(datetime.now(UTC)) or ""


class ElasticsearchStore:
    """:class:`pipeline.store.base.Store` on an Elasticsearch (or compatible) cluster."""

    def __init__(
        self, settings: ElasticsearchSettings, client: AsyncElasticsearch | None = None
    ) -> None:
        self.settings = settings
        self.prefix = settings.index_prefix
        self.alias = posts_alias(self.prefix)
        self.ik: bool | None = None  # detected on open
        self._client = client

    @property
    def client(self) -> AsyncElasticsearch:
        if self._client is None:
            raise RuntimeError("ElasticsearchStore is not open")
        return self._client

    def _index(self, role: str) -> str:
        return fixed_index(self.prefix, role)

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Detect IK, put the posts template, create the fixed indices (idempotent)."""
        if self._client is None:
            self._client = make_client(self.settings)
        with guard("open"):
            self.ik = await self._detect_ik()
            await self.client.indices.put_index_template(**posts_template(self.prefix, self.ik))
            for role in FIXED:
                await self._ensure_index(self._index(role), fixed_mappings(role))
            await self._ensure_index(es_takedown.takedown_index(self.prefix), es_takedown.MAPPINGS)
            await self._ensure_index(es_rings.rings_index(self.prefix), es_rings.MAPPINGS)

    async def _detect_ik(self) -> bool:
        try:
            info = await self.client.nodes.info(metric="plugins")
        except ApiError as exc:  # e.g. an API key without monitor privilege
            if exc.meta.status in RETRY_STATUSES:
                raise
            log.warning("cannot list plugins (%s); using the cjk analyzer", exc)
            return False
        ik = has_ik(dict(info.body))
        log.info("Elasticsearch text analysis: %s", "IK" if ik else "cjk (no IK plugin)")
        return ik

    async def _ensure_index(self, name: str, mappings: dict[str, Any]) -> None:
        """Create the index, or add the fields a newer version maps to an existing one
        (mappings only ever gain fields; with ``dynamic: strict`` a document carrying an
        unmapped field would be refused)."""
        if await self.client.indices.exists(index=name):
            await self.client.indices.put_mapping(index=name, properties=mappings["properties"])
            return
        try:
            await self.client.indices.create(index=name, mappings=mappings)
        except BadRequestError as exc:  # another worker created it first
            if exc.error != "resource_already_exists_exception":
                raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- writes ----------------------------------------------------------------------

    async def write_batch(
        self,
        posts: Sequence[ScoredPost],
        accounts: Sequence[AccountRisk] = (),
        checkpoints: Sequence[SourceState] = (),
    ) -> None:
        latest = {scored.post.key: scored for scored in posts}  # the last copy of a key wins
        actions: list[bytes] = []
        with guard("write_batch"):
            if latest:
                actions.extend(await self._post_actions(latest))
            index = self._index("accounts")
            for acc in {a.key: a for a in accounts}.values():
                actions.append(self._put(index, acc.key, docs.encode(docs.account_doc(acc))))
            await self._bulk(actions)
            await self._bulk(
                [
                    self._put(self._index("checkpoints"), s.name, docs.checkpoint_doc(s))
                    for s in checkpoints
                ]
            )

    @staticmethod
    def _put(index: str, doc_id: str, source: dict[str, Any] | bytes) -> bytes:
        """An index action as the NDJSON lines ``bulk_write`` sends as they are; a
        ``bytes`` source is the document's JSON already."""
        if not isinstance(source, bytes):
            source = encode_source(source)
        return index_action(index, doc_id, source)

    async def _post_actions(self, latest: dict[str, ScoredPost]) -> list[bytes]:
        keys = list(latest)
        # Two lookups per batch (per 1,000 keys), not per post, and side by side.
        where, statuses = await asyncio.gather(
            self._post_indices(keys), self._review_statuses(keys)
        )
        actions: list[bytes] = []
        for key, scored in latest.items():
            target = month_index(self.prefix, docs.posted_at(scored.post))
            for old in where.get(key, ()):
                if old != target:  # the post's time moved it to another month
                    actions.append(delete_action(old, key))
            doc = docs.post_doc(scored, statuses.get(key, "new"))
            actions.append(index_action(target, key, docs.encode(doc)))
        return actions

    async def _post_indices(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """Post key → the monthly indices that hold a copy of it now. The reply is trimmed
        to the hits' ``_index`` / ``_id`` (``{}`` when nothing matched)."""
        found: dict[str, list[str]] = {}
        for chunk in _chunks(keys):
            resp = await self.client.search(
                index=self.alias,
                query={"ids": {"values": chunk}},
                size=len(chunk) * 2,
                source=False,
                filter_path=_HIT_IDS,
                **_MISSING,
            )
            for hit in resp.body.get("hits", {}).get("hits", ()):
                found.setdefault(hit["_id"], []).append(hit["_index"])
        return found

    async def _review_statuses(self, targets: Sequence[str]) -> dict[str, str]:
        """Review target → status, reading only the status of each review."""
        out: dict[str, str] = {}
        for chunk in _chunks(targets):
            resp = await self.client.mget(
                index=self._index("reviews"),
                ids=chunk,
                source_includes=["status"],
                filter_path=_DOC_STATUSES,
            )
            for doc in resp.body.get("docs", ()):
                if doc.get("found"):
                    out[doc["_id"]] = doc["_source"]["status"]
        return out

    async def _bulk(self, actions: Sequence[Action]) -> None:
        await bulk_write(self.client, actions, self.settings)

    async def record_rejects(self, rejects: Sequence[Reject]) -> None:
        index = self._index("rejects")
        actions = [
            {
                "_op_type": "index",
                "_index": index,
                "_source": docs.reject_doc(r, iso(r.at) or _now()),
            }
            for r in rejects
        ]
        with guard("record_rejects"):
            await self._bulk(actions)

    async def set_review(self, review: Review) -> None:
        doc = docs.review_doc(review, iso(review.at) or _now())
        with guard("set_review"):
            await self.client.index(
                index=self._index("reviews"), id=review.target, document=doc, refresh="wait_for"
            )
            await self.client.index(
                index=self._index("review-history"), document=doc, refresh="wait_for"
            )
            # Account reviews carry a prefix (account_review_target) and match no post.
            for index in (await self._post_indices([review.target])).get(review.target, []):
                # NotFound: moved to another month meanwhile, by a write that read (or, on
                # re-delivery, will read) the review saved above.
                with contextlib.suppress(NotFoundError):
                    await self.client.update(
                        index=index,
                        id=review.target,
                        doc={"status": doc["status"]},
                        refresh="wait_for",
                        retry_on_conflict=3,
                    )

    # -- reads -----------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchResult:
        terms, body = search_body(query)
        if body is None:
            return SearchResult(total=0, results=[], facets=empty_facets())
        with guard("search"):
            resp = await self.client.search(index=self.alias, **body, **_MISSING)
        hits = [docs.hit_from_source(h["_source"], terms) for h in resp["hits"]["hits"]]
        return SearchResult(
            total=int(resp["hits"]["total"]["value"]),
            results=hits,
            facets=facet_counts(resp.body.get("aggregations") or {}),
        )

    async def get_post(self, key: str) -> SearchHit | None:
        found = await self._hits({"ids": {"values": [key]}}, 1)
        return found[0] if found else None

    async def account_posts(
        self, platform: str, account_id: str, limit: int = 50
    ) -> list[SearchHit]:
        return await self._hits({"term": {"account_key": account_key(platform, account_id)}}, limit)

    async def _hits(self, query: dict[str, Any], limit: int) -> list[SearchHit]:
        if limit <= 0:
            return []
        with guard("read posts"):
            resp = await self.client.search(
                index=self.alias,
                query=query,
                size=min(limit, 10_000),
                sort=[{"posted_at": {"order": "desc", "missing": "_last"}}, {"key": "desc"}],
                source_includes=docs.HIT_SOURCE,
                **_MISSING,
            )
        return [docs.hit_from_source(h["_source"]) for h in resp["hits"]["hits"]]

    async def get_accounts(self, keys: Sequence[str]) -> dict[str, AccountRisk]:
        out: dict[str, AccountRisk] = {}
        with guard("get_accounts"):
            for chunk in _chunks(list(dict.fromkeys(keys))):
                resp = await self.client.mget(index=self._index("accounts"), ids=chunk)
                for doc in resp["docs"]:
                    if doc.get("found"):
                        out[doc["_id"]] = docs.account_from_source(doc["_source"])
            return await es_rings.overlay(self.client, self.prefix, out)

    async def get_account(self, platform: str, account_id: str) -> AccountRisk | None:
        key = account_key(platform, account_id)
        return (await self.get_accounts([key])).get(key)

    async def accounts_sharing_contacts(
        self, contacts: Sequence[str], exclude: str | None = None
    ) -> list[AccountRisk]:
        wanted = [c for c in dict.fromkeys(contacts) if c]
        if not wanted:
            return []
        with guard("accounts_sharing_contacts"):
            from_posts = await self.client.search(
                index=self.alias,
                query={"terms": {"contacts": wanted}},
                size=0,
                aggs={"accounts": {"terms": {"field": "account_key", "size": _MAX_LINKED}}},
                **_MISSING,
            )
            from_accounts = await self.client.search(
                index=self._index("accounts"),
                query={"terms": {"contacts": wanted}},
                size=_MAX_LINKED,
                source=False,
            )
        keys = {b["key"] for b in from_posts["aggregations"]["accounts"]["buckets"]}
        keys |= {h["_id"] for h in from_accounts["hits"]["hits"]}
        keys.discard(exclude or "")
        keys.discard("")
        found = await self.get_accounts(sorted(keys))
        return sorted(found.values(), key=lambda a: (-a.score, a.key))

    async def get_checkpoint(self, source: str) -> SourceState | None:
        with guard("get_checkpoint"):
            try:
                resp = await self.client.get(index=self._index("checkpoints"), id=source)
            except NotFoundError:
                return None
        return docs.checkpoint_from_source(resp["_source"])

    async def list_sources(self) -> list[SourceState]:
        with guard("list_sources"):
            resp = await self.client.search(
                index=self._index("checkpoints"), sort=[{"name": "asc"}], size=10_000
            )
        return [docs.checkpoint_from_source(h["_source"]) for h in resp["hits"]["hits"]]

    async def reported_accounts(self) -> list[str]:
        """Account keys whose review status is ``reported``, oldest decision first: the
        ``recheck`` job's work list."""
        prefix = account_review_target("")
        with guard("reported_accounts"):
            resp = await self.client.search(
                index=self._index("reviews"),
                query={
                    "bool": {
                        "filter": [
                            {"term": {"status": str(ReviewStatus.REPORTED)}},
                            {"prefix": {"target": prefix}},
                        ]
                    }
                },
                sort=[{"at": "asc"}, {"target": "asc"}],
                size=10_000,
                source_includes=["target"],
            )
        return [h["_source"]["target"][len(prefix) :] for h in resp["hits"]["hits"]]

    # -- review-status reads and takedown lists (pipeline.store.es_takedown) --------

    async def accounts_with_status(
        self, status: ReviewStatus, platform: str | None = None, *, limit: int = 10_000
    ) -> list[AccountRisk]:
        status = ReviewStatus(status)
        return await es_takedown.accounts_with_status(
            self.client, self.prefix, status, platform, limit
        )

    async def save_takedown_list(self, takedown: TakedownList) -> None:
        await es_takedown.save_list(self.client, self.prefix, takedown)

    async def list_takedown_lists(self, limit: int = 50) -> list[TakedownSummary]:
        return await es_takedown.list_lists(self.client, self.prefix, limit)

    async def get_takedown_list(self, list_id: str) -> TakedownList | None:
        return await es_takedown.get_list(self.client, self.prefix, list_id)

    # -- rings (pipeline.store.es_rings) ---------------------------------------------

    async def ring_inputs(self, after: str | None = None, limit: int = 5_000) -> list[AccountLinks]:
        return await es_rings.ring_inputs(self.client, self.prefix, after, limit)

    async def save_rings(
        self,
        memberships: Mapping[str, RingMembership],
        *,
        at: datetime | None = None,
        template_peers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        when = at or datetime.now(UTC)
        await es_rings.save_rings(
            self.client, self.prefix, self.settings, memberships, when, template_peers
        )

    async def get_ring(self, ring_id: str) -> Ring | None:
        return await es_rings.get_ring(self.client, self.prefix, ring_id)

    async def ring_members(self, ring_id: str, limit: int = 200) -> list[AccountRisk]:
        return await es_rings.ring_members(self.client, self.prefix, ring_id, limit)

    async def count_posts(self) -> int:
        with guard("count_posts"):
            resp = await self.client.count(index=self.alias, **_MISSING)
        return int(resp["count"])

    async def stats(self) -> StoreStats:
        """Totals for the dashboard: ``by_category`` counts flagged posts per category,
        ``by_platform`` counts all posts per platform (what was collected where)."""
        flagged = {"term": {"flagged": True}}
        with guard("stats"):
            posts = await self.client.search(
                index=self.alias,
                size=0,
                track_total_hits=True,
                aggs={
                    "flagged": {
                        "filter": flagged,
                        "aggs": {"categories": {"terms": {"field": "categories", "size": 20}}},
                    },
                    "platforms": {"terms": {"field": "platform", "size": 200}},
                },
                **_MISSING,
            )
            accounts = await self.client.search(
                index=self._index("accounts"),
                size=0,
                track_total_hits=True,
                aggs={"flagged": {"filter": flagged}},
            )
            rejects = await self.client.count(index=self._index("rejects"))
        aggs = posts.body.get("aggregations") or {}
        buckets = aggs.get("flagged", {}).get("categories", {}).get("buckets", [])
        return StoreStats(
            posts=int(posts["hits"]["total"]["value"]),
            flagged_posts=int(aggs.get("flagged", {}).get("doc_count", 0)),
            accounts=int(accounts["hits"]["total"]["value"]),
            flagged_accounts=int(accounts["aggregations"]["flagged"]["doc_count"]),
            rejects=int(rejects["count"]),
            by_category={str(b["key"]): int(b["doc_count"]) for b in buckets},
            by_platform={
                str(b["key"]): int(b["doc_count"])
                for b in aggs.get("platforms", {}).get("buckets", [])
            },
        )
