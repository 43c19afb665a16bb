"""The JSON shapes of the API: a search hit, a search result, an account, the status.

Why explicit shapes instead of dumping the Structs: the API is a contract for scripts
investigators write, so it is flat where that helps (post fields at the top of a hit),
leaves out what is bulky or internal (``post_scores``, ``detector_version``) and names
highlight fragments instead of using bare pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from dashboards.highlight import hit_fragments
from pipeline.models import AccountRisk, Ring, SearchHit, SearchResult, SourceState, StoreStats

_VERDICT_FIELDS = ("flagged", "score", "categories", "evidence", "contacts", "reasons")


def hit_json(hit: SearchHit) -> dict[str, Any]:
    post = hit.post
    verdict = hit.verdict
    return {
        "key": post.key,
        "platform": post.platform,
        "post_id": post.post_id,
        "text": post.text,
        "author_id": post.author_id,
        "author_name": post.author_name,
        "account_key": post.account_key,
        "url": post.url,
        "created_at": post.created_at,
        "verdict": {name: getattr(verdict, name) for name in _VERDICT_FIELDS},
        "status": hit.status,
        "highlight": [{"text": text, "mark": mark} for text, mark in hit_fragments(hit)],
    }


def search_json(result: SearchResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "results": [hit_json(hit) for hit in result.results],
        "facets": result.facets,
    }


def account_json(
    account: AccountRisk,
    sharing: list[AccountRisk],
    recent: list[SearchHit],
    ring: Ring | None = None,
    ring_members: Sequence[AccountRisk] = (),
) -> dict[str, Any]:
    """``ring`` is the saved ring's id (None: in no ring); ``ring_size`` and
    ``ring_contacts`` describe the whole ring, ``ring_members`` are the other members'
    keys (the best 50). ``ring_weak`` lists the weak links ("mention:key",
    "template:key") that attached the account to its ring (empty: it shares a contact),
    ``template_peers`` the accounts posting the same ad template. The fold's own inputs
    (post scores, template folds, mention snippets) are left out."""
    fields = msgspec.structs.asdict(account)
    for internal in ("post_scores", "templates", "mentions"):
        fields.pop(internal, None)
    return {
        "key": account.key,
        **fields,
        "ring_size": ring.size if ring else None,
        "ring_contacts": ring.contacts if ring else [],
        "ring_members": [m.key for m in ring_members if m.key != account.key],
        "sharing": [other.key for other in sharing if other.key != account.key],
        "recent_posts": [hit_json(hit) for hit in recent],
    }


def status_json(
    stats: StoreStats, sources: list[SourceState], runner: dict[str, Any] | None
) -> dict[str, Any]:
    """Store counters, source checkpoints and (when a runner is attached) its live status,
    each under its own key so neither can shadow the other."""
    return {"store": stats, "sources": sources, "runner": runner}


def encode(value: object) -> bytes:
    """msgspec JSON: datetimes as ISO 8601, enums as their values, Structs as objects."""
    return msgspec.json.encode(value)
