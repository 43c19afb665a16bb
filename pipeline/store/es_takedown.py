"""Takedown lists and review-status reads for the Elasticsearch store.

Lists live in ``{prefix}-takedowns`` (never rolls over; ``_id`` = list id, so re-saving
a list overwrites it). The list itself is stored opaque for a lossless round trip, with
flat copies of what the dashboard's index sorts and shows.

Accounts by review status read the reviews index (the record of decisions) and fetch
the accounts' risks by ``_id``; ``new`` also walks the accounts index for accounts never
reviewed, since an unreviewed account has no review document to find.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from elasticsearch import AsyncElasticsearch, NotFoundError

from pipeline.models import (
    AccountRisk,
    Review,
    ReviewStatus,
    TakedownList,
    TakedownSummary,
    account_review_target,
)
from pipeline.store import es_docs as docs
from pipeline.store import es_rings
from pipeline.store.es_errors import guard
from pipeline.store.es_mappings import fixed_index, iso

ROLE = "takedowns"
_PAGE = 1_000
_ACCOUNT_PREFIX = account_review_target("")
_SUMMARY_FIELDS = ["id", "platform", "created_at", "period", "count", "accounts"]
_KEYWORD = {"type": "keyword"}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "platform": _KEYWORD,
        "created_at": {"type": "date"},
        "period": _KEYWORD,
        "count": {"type": "integer"},
        "accounts": _KEYWORD,
        "list": {"type": "object", "enabled": False},
    },
}


def takedown_index(prefix: str) -> str:
    return fixed_index(prefix, ROLE)


def _review(source: dict[str, Any]) -> Review:
    return msgspec.convert(source, Review)


def _with_review(key: str, account: AccountRisk | None, review: Review | None) -> AccountRisk:
    if account is None:
        platform, _, account_id = key.partition(":")
        account = AccountRisk(platform=platform, account_id=account_id)
    return msgspec.structs.replace(account, review=review)


async def _accounts(
    client: AsyncElasticsearch, prefix: str, keys: Sequence[str]
) -> dict[str, AccountRisk]:
    out: dict[str, AccountRisk] = {}
    index = fixed_index(prefix, "accounts")
    for i in range(0, len(keys), _PAGE):
        resp = await client.mget(index=index, ids=list(keys[i : i + _PAGE]))
        for doc in resp["docs"]:
            if doc.get("found"):
                out[doc["_id"]] = docs.account_from_source(doc["_source"])
    return out


async def _reviews_with_status(
    client: AsyncElasticsearch, prefix: str, status: ReviewStatus, target_prefix: str, limit: int
) -> list[Review]:
    """Account reviews with ``status``, oldest decision first (``search_after`` pages)."""
    found: list[Review] = []
    after: list[Any] | None = None
    while len(found) < limit:
        size = min(_PAGE, limit - len(found))
        page = await client.search(
            index=fixed_index(prefix, "reviews"),
            query={
                "bool": {
                    "filter": [
                        {"term": {"status": str(status)}},
                        {"prefix": {"target": target_prefix}},
                    ]
                }
            },
            sort=[{"at": {"order": "asc", "missing": "_first"}}, {"target": "asc"}],
            size=size,
            **({"search_after": after} if after else {}),
        )
        hits = page["hits"]["hits"]
        found.extend(_review(h["_source"]) for h in hits)
        if len(hits) < size:
            break
        after = hits[-1]["sort"]
    return found


async def _unreviewed(
    client: AsyncElasticsearch, prefix: str, platform: str | None, limit: int
) -> list[AccountRisk]:
    """Accounts with no review document at all, by key."""
    found: list[AccountRisk] = []
    after: list[Any] | None = None
    query = {"term": {"platform": platform}} if platform is not None else {"match_all": {}}
    while len(found) < limit:
        page = await client.search(
            index=fixed_index(prefix, "accounts"),
            query=query,
            sort=[{"key": "asc"}],
            size=_PAGE,
            **({"search_after": after} if after else {}),
        )
        hits = page["hits"]["hits"]
        if not hits:
            break
        targets = [_ACCOUNT_PREFIX + h["_id"] for h in hits]
        reviewed = await client.mget(index=fixed_index(prefix, "reviews"), ids=targets)
        seen = {doc["_id"] for doc in reviewed["docs"] if doc.get("found")}
        for hit, target in zip(hits, targets, strict=True):
            if target not in seen:
                found.append(docs.account_from_source(hit["_source"]))
        after = hits[-1]["sort"]
    return found[:limit]


async def accounts_with_status(
    client: AsyncElasticsearch,
    prefix: str,
    status: ReviewStatus,
    platform: str | None,
    limit: int,
) -> list[AccountRisk]:
    target_prefix = _ACCOUNT_PREFIX + (f"{platform}:" if platform is not None else "")
    with guard("accounts_with_status"):
        reviews = await _reviews_with_status(client, prefix, status, target_prefix, limit)
        keys = [r.target[len(_ACCOUNT_PREFIX) :] for r in reviews]
        stored = await _accounts(client, prefix, keys)
        found = [_with_review(k, stored.get(k), r) for k, r in zip(keys, reviews, strict=True)]
        if status == ReviewStatus.NEW and len(found) < limit:
            found = await _unreviewed(client, prefix, platform, limit - len(found)) + found
        return await es_rings.overlay_list(client, prefix, found)


def list_doc(takedown: TakedownList) -> dict[str, Any]:
    return {
        "id": takedown.id,
        "platform": takedown.platform,
        "created_at": iso(takedown.created_at),
        "period": takedown.period,
        "count": len(takedown.entries),
        "accounts": takedown.accounts,
        "list": msgspec.to_builtins(takedown),
    }


async def save_list(client: AsyncElasticsearch, prefix: str, takedown: TakedownList) -> None:
    with guard("save_takedown_list"):
        await client.index(
            index=takedown_index(prefix),
            id=takedown.id,
            document=list_doc(takedown),
            refresh="wait_for",
        )


async def list_lists(client: AsyncElasticsearch, prefix: str, limit: int) -> list[TakedownSummary]:
    if limit <= 0:
        return []
    with guard("list_takedown_lists"):
        resp = await client.search(
            index=takedown_index(prefix),
            sort=[{"created_at": "desc"}, {"id": "desc"}],
            size=min(limit, 10_000),
            source_includes=_SUMMARY_FIELDS,
        )
    return [msgspec.convert(h["_source"], TakedownSummary) for h in resp["hits"]["hits"]]


async def get_list(client: AsyncElasticsearch, prefix: str, list_id: str) -> TakedownList | None:
    with guard("get_takedown_list"):
        try:
            resp = await client.get(index=takedown_index(prefix), id=list_id)
        except NotFoundError:
            return None
    return msgspec.convert(resp["_source"]["list"], TakedownList)
