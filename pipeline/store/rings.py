"""What both stores derive from a ring job's memberships: one :class:`Ring` per ring id.

Kept apart from either store so that the SQLite table and the Elasticsearch documents
describe a ring (its size, the contacts its members share) the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def with_ring(account: AccountRisk, ring: str | None) -> AccountRisk:
    """``account`` carrying the saved ring (None: in no ring), whatever it was written with."""
    if account.ring == ring:
        return account
    return msgspec.structs.replace(account, ring=ring)
