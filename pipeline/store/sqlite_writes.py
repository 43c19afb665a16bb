"""The write side of the SQLite store: upserts that keep child rows and the FTS index
in step with the post they belong to. Each function runs inside the caller's
transaction on the writer connection; none commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pipeline.models import AccountRisk, ScoredPost
from pipeline.store import fts
from pipeline.store import sqlite_rows as rows

_FTS_VERSION_KEY = "fts_tokenizer"


def upsert_posts(con: sqlite3.Connection, batch: Sequence[ScoredPost]) -> None:
    """Upsert posts with their verdicts, categories, contacts and FTS rows, set-wise.

    One ``executemany`` per table for the whole batch rather than several statements per
    post: the writer runs on its own thread, and every statement hands the GIL back and
    forth with the detector, so statement count (not SQLite's own work) set the pace.
    Measured by bench/ingest.py on 100k posts: write_batch alone 4.7k → 6.3k posts/s, the
    whole pipeline 1.35k → 1.8k posts/s, going from per-post statements to these.

    The FTS table is contentless, so replacing a row means deleting exactly the tokens it
    was indexed with: those of the old text, re-tokenised. Unchanged text (the common
    re-delivery case) leaves the index alone.
    """
    latest = {scored.post.key: scored for scored in batch}  # the last copy of a key wins
    keys = list(latest)
    old = {
        row["key"]: (row["id"], row["text"])
        for row in con.execute(
            "SELECT key, id, text FROM posts WHERE key IN (SELECT value FROM json_each(?))",
            (rows.json_list(keys),),
        )
    }
    con.executemany(rows.UPSERT_POST, [rows.post_params(s) for s in latest.values()])
    new_keys = [key for key in keys if key not in old]
    ids = {key: row_id for key, (row_id, _) in old.items()}
    if new_keys:
        ids.update(
            con.execute(
                "SELECT key, id FROM posts WHERE key IN (SELECT value FROM json_each(?))",
                (rows.json_list(new_keys),),
            ).fetchall()
        )
    changed = [key for key in keys if key not in old or old[key][1] != latest[key].post.text]
    con.executemany(
        "INSERT INTO posts_fts (posts_fts, rowid, body) VALUES ('delete', ?, ?)",
        [(old[k][0], fts.index_text(old[k][1])) for k in changed if k in old],
    )
    con.executemany(
        "INSERT INTO posts_fts (rowid, body) VALUES (?, ?)",
        [(ids[k], fts.index_text(latest[k].post.text)) for k in changed],
    )
    con.executemany(
        rows.UPSERT_VERDICT, [rows.verdict_params(k, s.verdict) for k, s in latest.items()]
    )
    replaced = [key for key in keys if key in old]  # a new post has no child rows yet
    con.executemany("DELETE FROM post_categories WHERE post = ?", [(ids[k],) for k in replaced])
    con.executemany("DELETE FROM contacts WHERE post_key = ?", [(k,) for k in replaced])
    con.executemany(
        "INSERT OR IGNORE INTO post_categories (post, category) VALUES (?, ?)",
        [(ids[k], c) for k, s in latest.items() for c in s.verdict.categories],
    )
    con.executemany(
        "INSERT OR IGNORE INTO contacts (canonical, post_key, account_key) VALUES (?, ?, ?)",
        [row for s in latest.values() for row in rows.contact_rows(s)],
    )


def upsert_accounts(con: sqlite3.Connection, accounts: Sequence[AccountRisk]) -> None:
    """Upsert account risks and replace their account-level contacts (e.g. from a bio),
    kept apart from post contacts by an empty ``post_key``."""
    con.executemany(rows.UPSERT_ACCOUNT, [rows.account_params(a) for a in accounts])
    con.executemany(
        "DELETE FROM contacts WHERE post_key = '' AND account_key = ?",
        [(a.key,) for a in accounts],
    )
    con.executemany(
        "INSERT OR IGNORE INTO contacts (canonical, post_key, account_key) VALUES (?, '', ?)",
        [(c, a.key) for a in accounts for c in sorted(set(a.contacts)) if c],
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
