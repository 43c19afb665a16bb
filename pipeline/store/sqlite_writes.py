"""The write side of the SQLite store: upserts that keep child rows and the FTS index
in step with the post they belong to. Each function runs inside the caller's
transaction on the writer connection; none commits.
"""

from __future__ import annotations

import sqlite3

from pipeline.models import AccountRisk, ScoredPost
from pipeline.store import fts
from pipeline.store import sqlite_rows as rows

_FTS_VERSION_KEY = "fts_tokenizer"


def upsert_post(con: sqlite3.Connection, scored: ScoredPost) -> None:
    """Upsert one post, its verdict, categories, contacts and FTS row.

    The FTS table is contentless, so replacing a row means deleting exactly the tokens it
    was indexed with: those of the old text, re-tokenised. Unchanged text (the common
    re-delivery case) leaves the index alone.
    """
    post, verdict = scored.post, scored.verdict
    old = con.execute("SELECT id, text FROM posts WHERE key = ?", (post.key,)).fetchone()
    cursor = con.execute(rows.UPSERT_POST, rows.post_params(scored))
    # lastrowid is only set by the INSERT path; an update keeps the id we just read.
    # (RETURNING would say it directly but cost ~70 µs/post here next to FTS5 writes.)
    row_id = cursor.lastrowid if old is None else old["id"]
    if old is None or old["text"] != post.text:
        if old is not None:
            con.execute(
                "INSERT INTO posts_fts (posts_fts, rowid, body) VALUES ('delete', ?, ?)",
                (row_id, fts.index_text(old["text"])),
            )
        con.execute(
            "INSERT INTO posts_fts (rowid, body) VALUES (?, ?)",
            (row_id, fts.index_text(post.text)),
        )
    con.execute(rows.UPSERT_VERDICT, rows.verdict_params(post.key, verdict))
    if old is not None:  # a new post has no child rows to replace
        con.execute("DELETE FROM post_categories WHERE post = ?", (row_id,))
        con.execute("DELETE FROM contacts WHERE post_key = ?", (post.key,))
    if verdict.categories:
        con.executemany(
            "INSERT OR IGNORE INTO post_categories (post, category) VALUES (?, ?)",
            [(row_id, c) for c in verdict.categories],
        )
    if contacts := rows.contact_rows(scored):
        con.executemany(
            "INSERT OR IGNORE INTO contacts (canonical, post_key, account_key) VALUES (?, ?, ?)",
            contacts,
        )


def upsert_account(con: sqlite3.Connection, account: AccountRisk) -> None:
    """Upsert an account's risk and replace its account-level contacts (e.g. from its
    bio), kept apart from post contacts by an empty ``post_key``."""
    con.execute(rows.UPSERT_ACCOUNT, rows.account_params(account))
    con.execute("DELETE FROM contacts WHERE post_key = '' AND account_key = ?", (account.key,))
    con.executemany(
        "INSERT OR IGNORE INTO contacts (canonical, post_key, account_key) VALUES (?, '', ?)",
        [(c, account.key) for c in sorted(set(account.contacts)) if c],
    )


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
