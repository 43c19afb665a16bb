"""Rings for the SQLite store (migration 0005): the ring job's input pages, the saved
memberships, and the join every account read uses to fill ``AccountRisk.ring``.

Plain functions over a connection, called by :class:`~pipeline.store.sqlite.SqliteStore`
on its reader / writer threads, like :mod:`pipeline.store.sqlite_takedown`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime

import msgspec

from pipeline.models import AccountLinks, AccountRisk, Ring
from pipeline.store import sqlite_rows as rows
from pipeline.store.base import RingMembership
from pipeline.store.rings import summarise

_encode = msgspec.json.Encoder().encode
_keys = msgspec.json.Decoder(list[str])

# Account-level contacts (post_key '') are exactly AccountRisk.contacts, the linking
# contacts; reading them from their own index avoids decoding every account's JSON.
# The plan is pinned: CROSS JOIN makes contacts the outer loop and ``+c.post_key`` keeps
# the planner off contacts_post, so it walks contacts_account in account_key order, groups
# without a temporary B-tree and stops after one page. Otherwise (a plain JOIN, or an
# equality on post_key that looks cheaper before ANALYZE) each page first grouped every
# remaining row: 3-5 s instead of ~0.6 s to page through 100k accounts.
_INPUTS = """
SELECT c.account_key, a.flagged, json_group_array(c.canonical) AS contacts
FROM contacts c CROSS JOIN accounts a ON a.key = c.account_key
WHERE +c.post_key = '' AND c.account_key > ?
GROUP BY c.account_key
ORDER BY c.account_key
LIMIT ?
"""

_MEMBERS = """
SELECT a.data, m.ring FROM ring_members m JOIN accounts a ON a.key = m.account_key
WHERE m.ring = ?
ORDER BY a.score DESC, a.key
LIMIT ?
"""


def ring_inputs(con: sqlite3.Connection, after: str | None, limit: int) -> list[AccountLinks]:
    return [
        AccountLinks(key, _keys.decode(contacts), bool(flagged))
        for key, flagged, contacts in con.execute(_INPUTS, (after or "", max(0, limit)))
    ]


def save_rings(
    con: sqlite3.Connection, memberships: Mapping[str, RingMembership], at: datetime
) -> None:
    """Replace every membership and ring (the caller's transaction makes it atomic)."""
    con.execute("DELETE FROM ring_members")
    con.execute("DELETE FROM rings")
    con.executemany(
        "INSERT INTO ring_members (account_key, ring, contacts, weak) VALUES (?, ?, ?, ?)",
        [
            (key, m.ring, rows.json_list(sorted(m.contacts)), rows.json_list(sorted(m.weak)))
            for key, m in memberships.items()
        ],
    )
    found_at = rows.to_text(at)
    con.executemany(
        "INSERT INTO rings (id, size, contacts, found_at) VALUES (?, ?, ?, ?)",
        [(r.id, r.size, rows.json_list(r.contacts), found_at) for r in summarise(memberships, at)],
    )


def get_ring(con: sqlite3.Connection, ring_id: str) -> Ring | None:
    row = con.execute(
        "SELECT id, size, contacts, found_at FROM rings WHERE id = ?", (ring_id,)
    ).fetchone()
    if row is None:
        return None
    return Ring(
        id=row["id"],
        size=row["size"],
        contacts=_keys.decode(row["contacts"]),
        found_at=rows.from_text(row["found_at"]),
    )


def ring_members(con: sqlite3.Connection, ring_id: str, limit: int) -> list[AccountRisk]:
    return [
        rows.decode_account(data, ring)
        for data, ring in con.execute(_MEMBERS, (ring_id, max(0, limit)))
    ]
