"""Takedown lists and review-status reads for the SQLite store (migration 0004).

Plain functions over a connection, called by :class:`~pipeline.store.sqlite.SqliteStore`
on its reader / writer threads, so the store itself only gains a few delegating lines.
Account reads join ``ring_members`` and ``template_peers`` for what the ring job saved,
as every account read does.
"""

from __future__ import annotations

import sqlite3

import msgspec

from pipeline.models import (
    AccountRisk,
    Review,
    ReviewStatus,
    TakedownList,
    TakedownSummary,
    account_review_target,
)
from pipeline.store import sqlite_rows as rows

_ACCOUNT_PREFIX = account_review_target("")
_encode = msgspec.json.Encoder().encode
_list = msgspec.json.Decoder(TakedownList)
_keys = msgspec.json.Decoder(list[str])

# Reviews of accounts with a given status, each joined to the account's stored risk (the
# join probes the accounts primary key once per review).
_REVIEWED = """
SELECT r.target, r.status, r.note, r.reviewer, r.at, a.data, m.ring, m.weak, t.peers
FROM reviews r LEFT JOIN accounts a ON a.key = substr(r.target, ?)
LEFT JOIN ring_members m ON m.account_key = a.key
LEFT JOIN template_peers t ON t.account_key = a.key
WHERE r.status = ? AND substr(r.target, 1, ?) = ?
ORDER BY r.at, r.target
LIMIT ?
"""
# Accounts never reviewed (status ``new`` by definition), by key.
_UNREVIEWED = """
SELECT a.data, m.ring, m.weak, t.peers FROM accounts a
LEFT JOIN ring_members m ON m.account_key = a.key
LEFT JOIN template_peers t ON t.account_key = a.key
WHERE NOT EXISTS (SELECT 1 FROM reviews r WHERE r.target = ? || a.key)
  AND (? IS NULL OR a.platform = ?)
ORDER BY a.key
LIMIT ?
"""


def split_account_key(key: str) -> tuple[str, str]:
    platform, _, account_id = key.partition(":")
    return platform, account_id


def _reviewed_account(row: sqlite3.Row) -> AccountRisk:
    key = row["target"][len(_ACCOUNT_PREFIX) :]
    review = Review(
        target=row["target"],
        status=ReviewStatus(row["status"]),
        note=row["note"],
        reviewer=row["reviewer"],
        at=rows.from_text(row["at"]),
    )
    if row["data"] is None:  # reviewed, but no risk stored for it (yet)
        platform, account_id = split_account_key(key)
        return AccountRisk(platform=platform, account_id=account_id, review=review)
    account = rows.decode_account(row["data"], row["ring"], row["weak"], row["peers"])
    return msgspec.structs.replace(account, review=review)


def accounts_with_status(
    con: sqlite3.Connection, status: ReviewStatus, platform: str | None, limit: int
) -> list[AccountRisk]:
    prefix = _ACCOUNT_PREFIX + (f"{platform}:" if platform is not None else "")
    found = [
        _reviewed_account(row)
        for row in con.execute(
            _REVIEWED,
            (len(_ACCOUNT_PREFIX) + 1, str(status), len(prefix), prefix, max(0, limit)),
        )
    ]
    if status == ReviewStatus.NEW and len(found) < limit:
        params = (_ACCOUNT_PREFIX, platform, platform, limit - len(found))
        never = [rows.decode_account(*saved) for saved in con.execute(_UNREVIEWED, params)]
        found = never + found  # no decision time sorts first
    return found


def save_list(con: sqlite3.Connection, takedown: TakedownList) -> None:
    con.execute(
        "INSERT INTO takedown_lists (id, platform, created_at, period, count, accounts, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET platform = excluded.platform,"
        " created_at = excluded.created_at, period = excluded.period,"
        " count = excluded.count, accounts = excluded.accounts, data = excluded.data",
        (
            takedown.id,
            takedown.platform,
            rows.to_text(takedown.created_at),
            takedown.period,
            len(takedown.entries),
            rows.json_list(takedown.accounts),
            _encode(takedown).decode(),
        ),
    )


def list_lists(con: sqlite3.Connection, limit: int) -> list[TakedownSummary]:
    found = con.execute(
        "SELECT id, platform, created_at, period, count, accounts FROM takedown_lists"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (max(0, limit),),
    )
    return [
        TakedownSummary(
            id=row["id"],
            platform=row["platform"],
            created_at=rows.from_text(row["created_at"]),
            period=row["period"],
            count=row["count"],
            accounts=_keys.decode(row["accounts"]),
        )
        for row in found
    ]


def get_list(con: sqlite3.Connection, list_id: str) -> TakedownList | None:
    row = con.execute("SELECT data FROM takedown_lists WHERE id = ?", (list_id,)).fetchone()
    return None if row is None else _list.decode(row[0])
