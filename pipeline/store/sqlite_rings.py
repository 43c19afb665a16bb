"""Rings for the SQLite store (migrations 0005, 0006): the ring job's input pages, the
saved memberships and template peers, and the join every account read uses to fill
``AccountRisk.ring`` / ``ring_weak`` / ``template_peers``.

Plain functions over a connection, called by :class:`~pipeline.store.sqlite.SqliteStore`
on its reader / writer threads, like :mod:`pipeline.store.sqlite_takedown`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from pipeline.models import AccountLinks, AccountRisk, Ring, template_scores
from pipeline.store import sqlite_rows as rows
from pipeline.store.base import RingMembership
from pipeline.store.rings import summarise

_encode = msgspec.json.Encoder().encode
_keys = msgspec.json.Decoder(list[str])

# One page of keys, merged in key order from two sources, each walked in key order and
# cut to one page before the merge:
# - account-level contacts (post_key ''), exactly AccountRisk.contacts, the linking
#   contacts, read from their own index rather than every account's JSON. The plan is
#   pinned: CROSS JOIN makes contacts the outer loop and ``+c.post_key`` keeps the
#   planner off contacts_post, so it walks contacts_account in account_key order, groups
#   without a temporary B-tree and stops after one page. Otherwise (an equality on
#   post_key that looks cheaper before ANALYZE) each page first grouped every remaining
#   row: 3-5 s instead of ~0.6 s to page through 100k accounts;
# - accounts with weak-link inputs, from the partial index accounts_weak_inputs
#   (migration 0006; the WHERE must stay the index's word for word).
# Then per key: its contacts (one probe of contacts_account), and the few fields of its
# JSON the weak links need, extracted in one json_extract (post_scores only for an
# account that keeps templates: they hold the templates' scores).
_INPUTS = """
WITH page(key) AS (
    SELECT key FROM (
        SELECT c.account_key AS key
        FROM contacts c CROSS JOIN accounts a ON a.key = c.account_key
        WHERE +c.post_key = '' AND c.account_key > ?1
        GROUP BY c.account_key ORDER BY c.account_key LIMIT ?2
    )
    UNION
    SELECT key FROM (
        SELECT key FROM accounts
        WHERE (json_type(data, '$.templates') IS NOT NULL
               OR (flagged AND json_type(data, '$.mentions') IS NOT NULL))
          AND key > ?1
        ORDER BY key LIMIT ?2
    )
    ORDER BY key LIMIT ?2
)
SELECT a.key, a.flagged, a.score,
    (SELECT json_group_array(c.canonical) FROM contacts c
     WHERE c.account_key = a.key AND c.post_key = '') AS contacts,
    json_extract(a.data, '$.nickname', '$.templates', '$.mentions', '$.shares_template')
        AS weak,
    CASE WHEN json_type(a.data, '$.templates') IS NOT NULL
         THEN json_extract(a.data, '$.post_scores') END AS scores
FROM page p CROSS JOIN accounts a ON a.key = p.key
ORDER BY a.key
"""

_MEMBERS = f"""
SELECT a.data, {rows.RING_COLUMNS} FROM ring_members m2
JOIN accounts a ON a.key = m2.account_key {rows.RING_JOIN}
WHERE m2.ring = ?
ORDER BY a.score DESC, a.key
LIMIT ?
"""  # noqa: S608 - constant SQL

_Weak = tuple[str | None, dict[str, str] | None, list[str] | None, bool | None]
_weak = msgspec.json.Decoder(_Weak)
_scores = msgspec.json.Decoder(dict[str, float])


def _links(
    key: str, flagged: int, score: float, contacts: str, weak: str, scores: str | None
) -> AccountLinks:
    nickname, templates, mentions, shares_template = _weak.decode(weak)
    kept: dict[str, float] = {}
    if templates:
        kept = template_scores(templates, _scores.decode(scores) if scores else {})
    return AccountLinks(
        key,
        [c for c in _keys.decode(contacts) if c],
        bool(flagged),
        nickname=nickname,
        score=float(score),
        templates=kept,
        mentions=mentions or [],
        shares_template=bool(shares_template),
    )


def ring_inputs(con: sqlite3.Connection, after: str | None, limit: int) -> list[AccountLinks]:
    return [_links(*row) for row in con.execute(_INPUTS, (after or "", max(0, limit)))]


def save_rings(
    con: sqlite3.Connection,
    memberships: Mapping[str, RingMembership],
    at: datetime,
    template_peers: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Replace every membership, ring and template peer list (the caller's transaction
    makes it atomic)."""
    con.execute("DELETE FROM ring_members")
    con.execute("DELETE FROM rings")
    con.execute("DELETE FROM template_peers")
    con.executemany(
        "INSERT INTO template_peers (account_key, peers) VALUES (?, ?)",
        [(key, rows.json_list(peers)) for key, peers in (template_peers or {}).items() if peers],
    )
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
        rows.decode_account(*saved) for saved in con.execute(_MEMBERS, (ring_id, max(0, limit)))
    ]
