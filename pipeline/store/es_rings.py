"""Rings for the Elasticsearch store: ``{prefix}-rings`` (never rolls over).

One document per ring member (``_id`` = ``m:`` + account key), one per ring (``r:`` +
ring id), and one per account sharing a counted ad template (``t:`` + account key: its
template peers). Account documents are left alone: a worker's ``write_batch`` indexes
whole account documents, so a ring written onto them would be erased by the next fold.
Every account read instead looks its ``m:`` and ``t:`` documents up here by ``_id``
(:func:`overlay`).

``save_rings`` replaces the previous run's documents without a transaction: it indexes
the new run's documents (each carrying a run id that sorts by time), refreshes, then
deletes the documents of *older* runs. Until that delete, an account that left a ring
can still show it; two runs at once end with the newer one's rings, because neither
deletes a newer run's documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
from elasticsearch import AsyncElasticsearch, NotFoundError

from pipeline.models import AccountLinks, AccountRisk, Ring, template_scores
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
_MEMBER, _RING, _PEERS = "member", "ring", "peers"

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": _KEYWORD,  # "member" | "ring"
        "key": _KEYWORD,  # the account key (member) or the ring id (ring)
        "ring": _KEYWORD,
        "contacts": _KEYWORD,
        "weak": _KEYWORD,
        "peers": {"type": "keyword", "index": False},  # template peers, read by _id only
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


def peers_id(key: str) -> str:
    return "t:" + key


class Saved(NamedTuple):
    """What the last run saved for one account."""

    ring: str | None = None
    weak: Sequence[str] = ()
    peers: Sequence[str] = ()


_NONE = Saved()


def _strings(value: Any) -> list[str]:
    """A keyword array as stored: a one-value array comes back bare."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


async def saved_rings(
    client: AsyncElasticsearch, prefix: str, keys: Iterable[str]
) -> dict[str, Saved]:
    """Account key → what was saved for it, for the keys in a ring or with template peers;
    one ``mget`` of both documents per page of keys."""
    wanted = list(dict.fromkeys(keys))
    out: dict[str, Saved] = {}
    for i in range(0, len(wanted), _PAGE):
        page = wanted[i : i + _PAGE]
        ids = [member_id(k) for k in page] + [peers_id(k) for k in page]
        resp = await client.mget(
            index=rings_index(prefix), ids=ids, source_includes=["ring", "weak", "peers"]
        )
        for doc in resp["docs"]:
            if not doc.get("found"):
                continue
            kind, key, source = doc["_id"][:2], doc["_id"][2:], doc["_source"]
            saved = out.get(key, _NONE)
            if kind == "m:":
                ring, weak = source["ring"], _strings(source.get("weak"))
                out[key] = saved._replace(ring=ring, weak=weak)
            else:
                out[key] = saved._replace(peers=_strings(source.get("peers")))
    return out


def _overlaid(account: AccountRisk, saved: Saved) -> AccountRisk:
    return with_ring(account, saved.ring, saved.weak, saved.peers)


async def overlay(
    client: AsyncElasticsearch, prefix: str, accounts: Mapping[str, AccountRisk]
) -> dict[str, AccountRisk]:
    """The accounts with what was saved for them (ring None when in no ring), by key."""
    if not accounts:
        return dict(accounts)
    saved = await saved_rings(client, prefix, accounts)
    return {key: _overlaid(account, saved.get(key, _NONE)) for key, account in accounts.items()}


async def overlay_list(
    client: AsyncElasticsearch, prefix: str, accounts: list[AccountRisk]
) -> list[AccountRisk]:
    if not accounts:
        return accounts
    saved = await saved_rings(client, prefix, (a.key for a in accounts))
    return [_overlaid(a, saved.get(a.key, _NONE)) for a in accounts]


_INPUT_FIELDS = [
    "key",
    "contacts",
    "flagged",
    "nickname",
    "score",
    "template_scores",
    "account.templates",
    "account.mentions",
    "account.shares_template",
]


def _links(source: dict[str, Any]) -> AccountLinks:
    account = source.get("account") or {}
    kept = template_scores(account.get("templates") or {}, source.get("template_scores") or {})
    return AccountLinks(
        source["key"],
        _strings(source.get("contacts")),
        bool(source.get("flagged")),
        nickname=source.get("nickname"),
        score=float(source.get("score") or 0.0),
        templates=kept,
        mentions=_strings(account.get("mentions")),
        shares_template=bool(account.get("shares_template")),
    )


async def ring_inputs(
    client: AsyncElasticsearch, prefix: str, after: str | None, limit: int
) -> list[AccountLinks]:
    """Accounts with at least one contact (``exists`` skips empty arrays), a kept
    template, or (flagged) mentions (``weak_inputs``), by key after ``after``; only the
    fields the ring job needs are read. Every hit is returned, so a short page means the
    last page."""
    if limit <= 0:
        return []
    query = {
        "bool": {
            "should": [
                {"exists": {"field": "contacts"}},
                {"terms": {"weak_inputs": ["template", "mention"]}},
            ],
            "minimum_should_match": 1,
        }
    }
    with guard("ring_inputs"):
        resp = await client.search(
            index=fixed_index(prefix, "accounts"),
            query=query,
            sort=[{"key": "asc"}],
            size=min(limit, 10_000),
            source_includes=_INPUT_FIELDS,
            **({"search_after": [after]} if after else {}),
        )
    return [_links(hit["_source"]) for hit in resp["hits"]["hits"]]


def _run_id(at: datetime) -> str:
    return f"{iso(at)}#{uuid.uuid4().hex[:8]}"


def _actions(
    index: str,
    memberships: Mapping[str, RingMembership],
    at: datetime,
    run: str,
    template_peers: Mapping[str, Sequence[str]],
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
    actions += [
        {
            "_op_type": "index",
            "_index": index,
            "_id": peers_id(key),
            "_source": {
                "kind": _PEERS,
                "key": key,
                "peers": list(peers),
                "run": run,
                "found_at": found_at,
            },
        }
        for key, peers in template_peers.items()
        if peers
    ]
    return actions


async def save_rings(
    client: AsyncElasticsearch,
    prefix: str,
    settings: ElasticsearchSettings,
    memberships: Mapping[str, RingMembership],
    at: datetime,
    template_peers: Mapping[str, Sequence[str]] | None = None,
) -> None:
    index = rings_index(prefix)
    run = _run_id(at)
    actions = _actions(index, memberships, at, run, template_peers or {})
    with guard("save_rings"):
        await bulk_write(client, actions, settings)
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
                docs.account_from_source(doc["_source"])
                for doc in accounts["docs"]
                if doc.get("found")
            ]
    found.sort(key=lambda a: (-a.score, a.key))
    return await overlay_list(client, prefix, found[:limit])
