"""Rings for the Elasticsearch store: ``{prefix}-rings`` (never rolls over).

One document per ring member (``_id`` = ``m:`` + account key) and one per ring (``r:`` +
ring id). Account documents are left alone: a worker's ``write_batch`` indexes whole
account documents, so a ring written onto them would be erased by the next fold. Every
account read instead looks its members up here by ``_id`` (:func:`overlay`).

``save_rings`` replaces the previous run's documents without a transaction: it indexes
the new run's documents (each carrying a run id that sorts by time), refreshes, then
deletes the documents of *older* runs. Until that delete, an account that left a ring
can still show it; two runs at once end with the newer one's rings, because neither
deletes a newer run's documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from elasticsearch import AsyncElasticsearch, NotFoundError

from pipeline.models import AccountLinks, AccountRisk, Ring
from pipeline.store import es_docs as docs
from pipeline.store.base import RingMembership
from pipeline.store.es_bulk import bulk_write
from pipeline.store.es_errors import guard
from pipeline.store.es_mappings import fixed_index, iso
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.rings import summarise, with_ring

ROLE = "rings"
_PAGE = 1_000
_MAX_MEMBERS = 10_000  # one search page: a ring is dozens of accounts, not thousands
_KEYWORD = {"type": "keyword"}
_MEMBER, _RING = "member", "ring"

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": _KEYWORD,  # "member" | "ring"
        "key": _KEYWORD,  # the account key (member) or the ring id (ring)
        "ring": _KEYWORD,
        "contacts": _KEYWORD,
        "weak": _KEYWORD,
        "size": {"type": "integer"},
        "run": _KEYWORD,  # the saving run: ISO time + random suffix, sorts by time
        "found_at": {"type": "date"},
    },
}


def rings_index(prefix: str) -> str:
    return fixed_index(prefix, ROLE)


def member_id(key: str) -> str:
    return "m:" + key


def _ring_id(ring_id: str) -> str:
    return "r:" + ring_id


async def saved_rings(
    client: AsyncElasticsearch, prefix: str, keys: Iterable[str]
) -> dict[str, str]:
    """Account key → its saved ring, for the keys that are in one."""
    wanted = list(dict.fromkeys(keys))
    out: dict[str, str] = {}
    for i in range(0, len(wanted), _PAGE):
        ids = [member_id(k) for k in wanted[i : i + _PAGE]]
        resp = await client.mget(index=rings_index(prefix), ids=ids, source_includes=["ring"])
        for doc in resp["docs"]:
            if doc.get("found"):
                out[doc["_id"][2:]] = doc["_source"]["ring"]
    return out


async def overlay(
    client: AsyncElasticsearch, prefix: str, accounts: Mapping[str, AccountRisk]
) -> dict[str, AccountRisk]:
    """The accounts with their saved ring (None when in no ring), by key."""
    if not accounts:
        return dict(accounts)
    rings = await saved_rings(client, prefix, accounts)
    return {key: with_ring(account, rings.get(key)) for key, account in accounts.items()}


async def overlay_list(
    client: AsyncElasticsearch, prefix: str, accounts: list[AccountRisk]
) -> list[AccountRisk]:
    if not accounts:
        return accounts
    rings = await saved_rings(client, prefix, (a.key for a in accounts))
    return [with_ring(a, rings.get(a.key)) for a in accounts]


async def ring_inputs(
    client: AsyncElasticsearch, prefix: str, after: str | None, limit: int
) -> list[AccountLinks]:
    """Accounts with at least one contact (``exists`` skips empty arrays), by key after
    ``after``; only three fields of each account document are read. Every hit is returned,
    so a short page means the last page."""
    if limit <= 0:
        return []
    with guard("ring_inputs"):
        resp = await client.search(
            index=fixed_index(prefix, "accounts"),
            query={"exists": {"field": "contacts"}},
            sort=[{"key": "asc"}],
            size=min(limit, 10_000),
            source_includes=["key", "contacts", "flagged"],
            **({"search_after": [after]} if after else {}),
        )
    out = []
    for hit in resp["hits"]["hits"]:
        source = hit["_source"]
        contacts = source.get("contacts") or []
        if isinstance(contacts, str):  # a one-value keyword array comes back bare
            contacts = [contacts]
        out.append(AccountLinks(source["key"], list(contacts), bool(source.get("flagged"))))
    return out


def _run_id(at: datetime) -> str:
    return f"{iso(at)}#{uuid.uuid4().hex[:8]}"


def _actions(
    index: str, memberships: Mapping[str, RingMembership], at: datetime, run: str
) -> list[dict[str, Any]]:
    found_at = iso(at)
    actions: list[dict[str, Any]] = [
        {
            "_op_type": "index",
            "_index": index,
            "_id": member_id(key),
            "_source": {
                "kind": _MEMBER,
                "key": key,
                "ring": m.ring,
                "contacts": sorted(m.contacts),
                "weak": sorted(m.weak),
                "run": run,
                "found_at": found_at,
            },
        }
        for key, m in memberships.items()
    ]
    actions += [
        {
            "_op_type": "index",
            "_index": index,
            "_id": _ring_id(ring.id),
            "_source": {
                "kind": _RING,
                "key": ring.id,
                "ring": ring.id,
                "contacts": ring.contacts,
                "size": ring.size,
                "run": run,
                "found_at": found_at,
            },
        }
        for ring in summarise(memberships, at)
    ]
    return actions


async def save_rings(
    client: AsyncElasticsearch,
    prefix: str,
    settings: ElasticsearchSettings,
    memberships: Mapping[str, RingMembership],
    at: datetime,
) -> None:
    index = rings_index(prefix)
    run = _run_id(at)
    with guard("save_rings"):
        await bulk_write(client, _actions(index, memberships, at, run), settings)
        await client.indices.refresh(index=index)
        await client.delete_by_query(
            index=index,
            query={"range": {"run": {"lt": run}}},
            refresh=True,
            conflicts="proceed",
        )


async def get_ring(client: AsyncElasticsearch, prefix: str, ring_id: str) -> Ring | None:
    with guard("get_ring"):
        try:
            resp = await client.get(index=rings_index(prefix), id=_ring_id(ring_id))
        except NotFoundError:
            return None
    source = resp["_source"]
    contacts = source.get("contacts") or []
    return msgspec.convert(
        {
            "id": source["ring"],
            "size": source["size"],
            "contacts": [contacts] if isinstance(contacts, str) else contacts,
            "found_at": source.get("found_at"),
        },
        Ring,
    )


async def ring_members(
    client: AsyncElasticsearch, prefix: str, ring_id: str, limit: int
) -> list[AccountRisk]:
    if limit <= 0:
        return []
    with guard("ring_members"):
        resp = await client.search(
            index=rings_index(prefix),
            query={"bool": {"filter": [{"term": {"kind": _MEMBER}}, {"term": {"ring": ring_id}}]}},
            sort=[{"key": "asc"}],
            size=_MAX_MEMBERS,
            source_includes=["key"],
        )
        keys = [h["_source"]["key"] for h in resp["hits"]["hits"]]
        found: list[AccountRisk] = []
        for i in range(0, len(keys), _PAGE):
            accounts = await client.mget(
                index=fixed_index(prefix, "accounts"), ids=keys[i : i + _PAGE]
            )
            found += [
                with_ring(docs.account_from_source(doc["_source"]), ring_id)
                for doc in accounts["docs"]
                if doc.get("found")
            ]
    found.sort(key=lambda a: (-a.score, a.key))
    return found[:limit]
