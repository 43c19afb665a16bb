"""The write side of the SQLite store: upserts that keep child rows and the FTS index
in step with the post they belong to. Each function runs inside the caller's
transaction on the writer connection; none commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from pipeline.store import fts
from pipeline.store import sqlite_rows as rows
from pipeline.store.sqlite_batch import BatchRows
from pipeline.store.sqlite_sets import RowsDelete, RowsInsert

_FTS_VERSION_KEY = "fts_tokenizer"


_stored = msgspec.json.Decoder(list[tuple[str, int, str]]).decode
_ids = msgspec.json.Decoder(dict[str, int]).decode
_FTS_DELETE = RowsInsert("INSERT INTO posts_fts (posts_fts, rowid, body)", 3)
_FTS_INSERT = RowsInsert("INSERT INTO posts_fts (rowid, body)", 2)
_CATEGORIES = RowsInsert("INSERT OR IGNORE INTO post_categories (post, category)", 2)
_CONTACTS = RowsInsert("INSERT OR IGNORE INTO contacts (canonical, post_key, account_key)", 3)
_DELETE_CATEGORIES = RowsDelete("post_categories", "post")
_DELETE_POST_CONTACTS = RowsDelete("contacts", "post_key")
_DELETE_ACCOUNT_CONTACTS = RowsDelete("contacts", "account_key", "post_key = ''")


def _one_row(con: sqlite3.Connection, aggregate: str, keys: Sequence[str]) -> str:
    """``aggregate`` (a JSON aggregate, a constant here) over the stored posts among
    ``keys``, fetched as ONE row: every row fetched is a ``sqlite3_step``, and every step
    a GIL hand-over on the writer thread (:mod:`pipeline.store.sqlite_sets`); a replayed
    batch would otherwise fetch one row per post."""
    sql = f"SELECT {aggregate} FROM posts WHERE key IN (SELECT value FROM json_each(?))"  # noqa: S608
    (found,) = con.execute(sql, (rows.json_list(keys),)).fetchone()
    return str(found)


def _stored_posts(con: sqlite3.Connection, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """``key → (id, text)`` of the stored posts among ``keys``."""
    found = _one_row(con, "json_group_array(json_array(key, id, text))", keys) if keys else "[]"
    return {key: (row_id, text) for key, row_id, text in _stored(found)}


def _post_ids(con: sqlite3.Connection, keys: Sequence[str]) -> dict[str, int]:
    """``key → id`` of the stored posts among ``keys``."""
    return _ids(_one_row(con, "json_group_object(key, id)", keys)) if keys else {}


def write_rows(con: sqlite3.Connection, batch: BatchRows) -> None:
    """One batch of the pipeline: its posts, the accounts they changed, the sources'
    checkpoints, in the caller's one transaction, so a source never records a cursor
    past posts that were not stored."""
    if batch.posts:
        upsert_posts(con, batch)
    if batch.accounts:
        upsert_accounts(con, batch)
    rows.UPSERT_CHECKPOINTS.run(con, batch.checkpoints)


def upsert_posts(con: sqlite3.Connection, batch: BatchRows) -> None:
    """Upsert posts with their verdicts, categories, contacts and FTS rows, set-wise.

    A few statements per table for the whole batch (:mod:`pipeline.store.sqlite_sets`):
    on the writer thread the number of times it hands the GIL over, not SQLite's own
    work, set the pace. Per-post statements → one ``executemany`` per table took
    bench/ingest.py's ``write_batch`` from 4.7k to 6.3k posts/s; multi-row statements
    are the next step of the same idea.

    The FTS table is contentless, so replacing a row means deleting exactly the tokens it
    was indexed with: those of the old text, re-tokenised. Unchanged text (the common
    re-delivery case) leaves the index alone. New texts come with their token strings
    (``batch.bodies``, made by the caller: :mod:`pipeline.store.sqlite_batch`).
    """
    keys = [row[rows.POST_KEY] for row in batch.posts]
    texts = {row[rows.POST_KEY]: row[rows.POST_TEXT] for row in batch.posts}
    bodies = dict(zip(keys, batch.bodies, strict=True))
    old = _stored_posts(con, keys)
    rows.UPSERT_POSTS.run(con, batch.posts)
    ids = {key: row_id for key, (row_id, _) in old.items()}
    ids.update(_post_ids(con, [key for key in keys if key not in old]))
    changed = [key for key in keys if key not in old or old[key][1] != texts[key]]
    _FTS_DELETE.run(
        con, [("delete", old[k][0], fts.index_text(old[k][1])) for k in changed if k in old]
    )
    _FTS_INSERT.run(con, [(ids[k], bodies[k]) for k in changed])
    rows.UPSERT_VERDICTS.run(con, batch.verdicts)
    replaced = [key for key in keys if key in old]  # a new post has no child rows yet
    _DELETE_CATEGORIES.run(con, [ids[k] for k in replaced])
    _DELETE_POST_CONTACTS.run(con, replaced)
    _CATEGORIES.run(con, [(ids[key], category) for key, category in batch.categories])
    _CONTACTS.run(con, batch.contacts)


def upsert_accounts(con: sqlite3.Connection, batch: BatchRows) -> None:
    """Upsert account risks and replace their account-level contacts (e.g. from a bio),
    kept apart from post contacts by an empty ``post_key``."""
    rows.UPSERT_ACCOUNTS.run(con, batch.accounts)
    _DELETE_ACCOUNT_CONTACTS.run(con, [row[rows.ACCOUNT_KEY] for row in batch.accounts])
    _CONTACTS.run(con, batch.account_contacts)


def _fts_version(con: sqlite3.Connection) -> str | None:
    row = con.execute("SELECT value FROM store_meta WHERE key = ?", (_FTS_VERSION_KEY,)).fetchone()
    return None if row is None else str(row[0])


def ensure_fts_tokenizer(con: sqlite3.Connection) -> None:
    """Rebuild the FTS index if it was built by a different tokenizer version: a
    contentless index can only delete the exact tokens it was given."""
    if _fts_version(con) == fts.TOKENIZER_VERSION:
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        if _fts_version(con) == fts.TOKENIZER_VERSION:  # another process just rebuilt it
            con.execute("COMMIT")
            return
        con.execute("INSERT INTO posts_fts (posts_fts) VALUES ('delete-all')")
        cursor = con.execute("SELECT id, text FROM posts")
        while batch := cursor.fetchmany(1000):
            con.executemany(
                "INSERT INTO posts_fts (rowid, body) VALUES (?, ?)",
                [(r["id"], fts.index_text(r["text"])) for r in batch],
            )
        con.execute(
            "INSERT INTO store_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_FTS_VERSION_KEY, fts.TOKENIZER_VERSION),
        )
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:  # SQLite may have rolled back already
            con.execute("ROLLBACK")
        raise
