"""What both stores derive from a ring job's memberships: one :class:`Ring` per ring id.

Kept apart from either store so that the SQLite table and the Elasticsearch documents
describe a ring (its size, the contacts its members share) the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from pipeline.models import AccountRisk, Ring
from pipeline.store.base import RingMembership


def summarise(memberships: Mapping[str, RingMembership], at: datetime) -> list[Ring]:
    """The rings of ``memberships``, by id: size = members, contacts = every contact a
    member shares with the ring (sorted, once each)."""
    sizes: dict[str, int] = {}
    contacts: dict[str, set[str]] = {}
    for member in memberships.values():
        sizes[member.ring] = sizes.get(member.ring, 0) + 1
        contacts.setdefault(member.ring, set()).update(member.contacts)
    return [
        Ring(id=rid, size=sizes[rid], contacts=sorted(contacts[rid]), found_at=at)
        for rid in sorted(sizes)
    ]


def with_ring(
    account: AccountRisk,
    ring: str | None,
    weak: Sequence[str] = (),
    peers: Sequence[str] = (),
) -> AccountRisk:
    """``account`` carrying what the last ring job saved for it: its ring (None: in no
    ring), the weak links that attached it, its template peers; whatever it was written
    with."""
    weak, peers = list(weak), list(peers)
    if account.ring == ring and account.ring_weak == weak and account.template_peers == peers:
        return account
    return msgspec.structs.replace(account, ring=ring, ring_weak=weak, template_peers=peers)


def unsaved(account: AccountRisk) -> AccountRisk:
    """``account`` without what the ring job owns (ring, weak links, template peers): a
    written risk never carries them, so a fold cannot erase or revive them."""
    if account.ring is None and not account.ring_weak and not account.template_peers:
        return account
    return msgspec.structs.replace(account, ring=None, ring_weak=[], template_peers=[])
