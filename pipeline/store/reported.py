"""Which accounts investigators marked ``reported`` (the ``recheck`` job's work list).

The ``Store`` protocol has no listing of account reviews, so this reads the SQLite
store's ``reviews`` table directly, read-only, on its own connection; other stores
answer with an empty list until they grow the query.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from pipeline.models import ReviewStatus

_PREFIX = "account:"


def _query(path: Path) -> list[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute(
            "SELECT target FROM reviews WHERE status = ? AND target LIKE 'account:%' ORDER BY at",
            (str(ReviewStatus.REPORTED),),
        ).fetchall()
    finally:
        con.close()
    return [target[len(_PREFIX) :] for (target,) in rows]


async def reported_accounts(store: object) -> list[str]:
    """Account keys (``platform:account_id``) whose review status is ``reported``."""
    from pipeline.store.sqlite import SqliteStore

    if not isinstance(store, SqliteStore) or not store.path.exists():
        return []
    return await asyncio.to_thread(_query, store.path)
