"""The default store: one SQLite file in WAL mode with an FTS5 index for Chinese search.

Threads: SQLite is synchronous, so the async protocol runs it on threads, never on the
event loop. All writes go through ONE connection, on one thread or in a child process of
its own (:mod:`pipeline.store.sqlite_writer`; SQLite has one writer at a time anyway, and
one connection keeps each batch one transaction). Reads use their own connections on a
small reader pool; WAL lets them read a consistent snapshot while a batch is being
written.

Durability: ``synchronous=NORMAL`` in WAL mode survives a process crash after every
commit; an OS crash or power cut may lose the last commits but never splits one. Since
a batch's checkpoints commit with its posts, a lost commit just means the source re-reads
those posts, and idempotent upserts absorb them.

Full-text search: CJK bigram pre-tokenisation (:mod:`pipeline.store.fts`) into a
contentless FTS5 table (the text itself lives once, in ``posts``), chosen by measuring
three candidates with ``bench/fts.py --posts 100000`` (100k synthetic posts of ~100
characters, 10-17% containing each term; SQLite 3.40.1, 2-core machine shared with other
jobs, so ±20%). Count = all matches, the cost of ``total``; hits vs substring truth::

                insert/s  index MB  count ms: 口子   退保  全额退保  vx 退保   hits: 口子   vx 退保
    trigram        9,291      37.4         99.7  105.1      0.95     54.2       10210      8394
    jieba          1,780      13.9         0.39   0.65      3.60     2.25        7677      9935
    bigram         9,391      24.9         0.39   0.76      2.72     2.18       10210      9971
    (truth)                                                                     10210     10845

- trigram cannot use its index below three characters, so 口子, 退保 and the vx of
  "vx 退保" fall back to a LIKE scan of every post (~100 ms here, growing with the
  table), and LIKE does not fold full-width ｖｘ;
- jieba answers from the index but only finds a term where its dictionary segments it
  as a word: it missed a quarter of the posts containing 口子 here (right for 门口子女,
  wrong for 退保费, cut 退/保费), and segmentation makes inserts ~5x slower;
- bigrams find every term of two or more characters from the index, insert as fast as
  trigram with a third less index, need no dictionary, and behave like Elasticsearch's
  ``cjk`` analyzer, so the scale-out store answers the same queries alike.

Ranking the first page by bm25 costs the same for any tokenisation (~15-30 ms for 8-17k
matches); end to end, ``search()`` (page + total + three facets) over those 100k posts
takes ~20 ms without a query and ~80-120 ms for these very common terms, and
``write_batch`` stores ~4,000 new posts/s (verdicts, categories, contacts, FTS).

Known limits: latin words are whole tokens (``vx`` does not find ``vx12345``, hence
9971 of 10845), and a one-character query finds the character only where a bigram
starts with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pipeline.models import (
    AccountLinks,
    AccountRisk,
    Reject,
    Review,
    ReviewStatus,
    Ring,
    ScoredPost,
    SearchHit,
    SearchQuery,
    SearchResult,
    SourceState,
    StoreStats,
    TakedownList,
    TakedownSummary,
    account_key,
    account_review_target,
)
from pipeline.store import sqlite_rings, sqlite_takedown
from pipeline.store import sqlite_rows as rows
from pipeline.store.base import RingMembership
from pipeline.store.group_commit import GroupCommit
from pipeline.store.sqlite_batch import batch_rows
from pipeline.store.sqlite_search import FACETS, plan_search, status_facet
from pipeline.store.sqlite_writer import Writer, WriterKind, connect, make_writer

T = TypeVar("T")

# Every account read joins what the ring job saved (migrations 0005, 0006):
# ``SELECT a.data, {rows.RING_COLUMNS} {_WITH_RING}``.
_WITH_RING = f"FROM accounts a {rows.RING_JOIN}"


class SqliteStore:
    """:class:`pipeline.store.base.Store` on one SQLite file (created on :meth:`open`)."""

    def __init__(
        self,
        path: Path | str,
        *,
        readers: int = 2,
        busy_timeout_ms: int = 10_000,
        writer: WriterKind = "thread",
    ):
        self.path = Path(path)
        self._readers = readers
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._writer_kind: WriterKind = writer
        self._writer: Writer | None = None
        self._group: GroupCommit | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_cons: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = make_writer(self._writer_kind, self.path, self._busy_timeout_ms)
        self._group = GroupCommit(self._writer.submit_rows)
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-reader")
        try:
            await self._writer.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, group, reader_pool = self._writer, self._group, self._reader_pool
        self._writer = self._group = self._reader_pool = None
        if group is not None:
            await group.close()
        loop = asyncio.get_running_loop()
        if reader_pool is not None:
            await loop.run_in_executor(None, reader_pool.shutdown)
        with self._lock:
            cons, self._reader_cons = self._reader_cons, []
        for con in cons:
            con.close()
        if writer is not None:
            await writer.stop()

    # -- plumbing --------------------------------------------------------------------

    def _opened_writer(self) -> Writer:
        if self._writer is None:
            raise RuntimeError("SqliteStore is not open")
        return self._writer

    async def _write(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(con, *args)`` in one transaction on the writer connection."""
        return await self._opened_writer().call(fn, *args)

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        if self._reader_pool is None:
            raise RuntimeError("SqliteStore is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, functools.partial(fn, *args))

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """This reader thread's connection inside one read transaction, so the several
        queries of one call (page, total, facets) see the same snapshot."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = connect(self.path, self._busy_timeout_ms)
            con.execute("PRAGMA query_only = ON")
            self._local.con = con
            with self._lock:
                self._reader_cons.append(con)
        con.execute("BEGIN")
        try:
            yield con
        finally:
            con.execute("COMMIT")

    # -- writes ----------------------------------------------------------------------

    async def write_batch(
        self,
        posts: Sequence[ScoredPost],
        accounts: Sequence[AccountRisk] = (),
        checkpoints: Sequence[SourceState] = (),
    ) -> None:
        if self._group is None:
            raise RuntimeError("SqliteStore is not open")
        # the rows are built here, by the caller, so that the writer only runs SQL
        await self._group.write(batch_rows(posts, accounts, checkpoints))

    async def record_rejects(self, rejects: Sequence[Reject]) -> None:
        params = [
            (
                r.source,
                r.location,
                r.reason,
                r.sample[: rows.MAX_REJECT_SAMPLE],
                rows.to_text(r.at) or rows.now_text(),
            )
            for r in rejects
        ]
        if params:
            await self._write(_record_rejects, params)

    async def set_review(self, review: Review) -> None:
        values = (
            review.target,
            str(review.status),
            review.note,
            review.reviewer,
            rows.to_text(review.at) or rows.now_text(),
        )
        await self._write(_set_review, values)

    # -- reads -----------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchResult:
        return await self._read(self._search, query)

    def _search(self, query: SearchQuery) -> SearchResult:
        plan = plan_search(query)
        if plan.matches_nothing:
            return SearchResult(total=0, results=[], facets={name: {} for name in FACETS})
        with self._snapshot() as con:
            ids = [row[0] for row in con.execute(plan.page_ids.sql, plan.page_ids.params)]
            hits = _hits_by_id(con, ids, plan.terms)
            facets = {
                name: {str(value): int(n) for value, n in con.execute(stmt.sql, stmt.params)}
                for name, stmt in plan.facets.items()
            }
            if plan.count is None:
                total = sum(facets["platform"].values())
            else:
                total = con.execute(plan.count.sql, plan.count.params).fetchone()[0]
            status_total = total
            if plan.status_total is not None:
                status_total = con.execute(
                    plan.status_total.sql, plan.status_total.params
                ).fetchone()[0]
            reviewed = {}
            if plan.reviewed is not None:
                reviewed = dict(con.execute(plan.reviewed.sql, plan.reviewed.params).fetchall())
            facets["status"] = status_facet(status_total, reviewed)
        return SearchResult(total=total, results=hits, facets=facets)

    async def get_post(self, key: str) -> SearchHit | None:
        found = await self._read(self._hits, "WHERE p.key = ?", (key,), 1)
        return found[0] if found else None

    async def account_posts(
        self, platform: str, account_id: str, limit: int = 50
    ) -> list[SearchHit]:
        where = "WHERE p.account_key = ? ORDER BY p.posted_at DESC, p.id DESC"
        return await self._read(self._hits, where, (account_key(platform, account_id),), limit)

    def _hits(self, tail: str, params: tuple[object, ...], limit: int) -> list[SearchHit]:
        sql = f"SELECT {rows.HIT_COLUMNS} {rows.HIT_FROM} {tail} LIMIT ?"
        with self._snapshot() as con:
            return [rows.hit_from_row(r) for r in con.execute(sql, (*params, max(0, limit)))]

    async def get_accounts(self, keys: Sequence[str]) -> dict[str, AccountRisk]:
        if not keys:
            return {}
        found = await self._read(
            self._query,
            f"SELECT a.key, a.data, {rows.RING_COLUMNS} {_WITH_RING}"  # noqa: S608 - constant SQL
            " WHERE a.key IN (SELECT value FROM json_each(?))",
            (rows.json_list(keys),),
        )
        return {key: rows.decode_account(*saved) for key, *saved in found}

    async def get_account(self, platform: str, account_id: str) -> AccountRisk | None:
        key = account_key(platform, account_id)
        return (await self.get_accounts([key])).get(key)

    async def accounts_sharing_contacts(
        self, contacts: Sequence[str], exclude: str | None = None
    ) -> list[AccountRisk]:
        if not contacts:
            return []
        found = await self._read(
            self._query,
            f"SELECT a.data, {rows.RING_COLUMNS} {_WITH_RING} WHERE a.key IN ("  # noqa: S608
            " SELECT account_key FROM contacts"
            " WHERE canonical IN (SELECT value FROM json_each(?))"
            " AND account_key != '' AND account_key != ?)"
            " ORDER BY a.score DESC, a.key",
            (rows.json_list(contacts), exclude or ""),
        )
        return [rows.decode_account(*saved) for saved in found]

    async def reported_accounts(self) -> list[str]:
        prefix = account_review_target("")
        found = await self._read(
            self._query,
            "SELECT target FROM reviews WHERE status = ? AND substr(target, 1, ?) = ?"
            " ORDER BY at, target",
            (str(ReviewStatus.REPORTED), len(prefix), prefix),
        )
        return [row["target"][len(prefix) :] for row in found]

    # -- review-status reads and takedown lists (pipeline.store.sqlite_takedown) -----

    async def accounts_with_status(
        self, status: ReviewStatus, platform: str | None = None, *, limit: int = 10_000
    ) -> list[AccountRisk]:
        fn = sqlite_takedown.accounts_with_status
        return await self._read(self._in_snapshot, fn, ReviewStatus(status), platform, limit)

    async def save_takedown_list(self, takedown: TakedownList) -> None:
        await self._write(sqlite_takedown.save_list, takedown)

    async def list_takedown_lists(self, limit: int = 50) -> list[TakedownSummary]:
        return await self._read(self._in_snapshot, sqlite_takedown.list_lists, limit)

    async def get_takedown_list(self, list_id: str) -> TakedownList | None:
        return await self._read(self._in_snapshot, sqlite_takedown.get_list, list_id)

    # -- rings (pipeline.store.sqlite_rings) -----------------------------------------

    async def ring_inputs(self, after: str | None = None, limit: int = 5_000) -> list[AccountLinks]:
        return await self._read(self._in_snapshot, sqlite_rings.ring_inputs, after, limit)

    async def save_rings(
        self,
        memberships: Mapping[str, RingMembership],
        *,
        at: datetime | None = None,
        template_peers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        when = at or datetime.now(UTC)
        peers = dict(template_peers or {})
        fn = sqlite_rings.save_rings
        await self._write(fn, dict(memberships), when, peers)

    async def get_ring(self, ring_id: str) -> Ring | None:
        return await self._read(self._in_snapshot, sqlite_rings.get_ring, ring_id)

    async def ring_members(self, ring_id: str, limit: int = 200) -> list[AccountRisk]:
        return await self._read(self._in_snapshot, sqlite_rings.ring_members, ring_id, limit)

    def _in_snapshot(self, fn: Callable[..., T], *args: object) -> T:
        with self._snapshot() as con:
            return fn(con, *args)

    async def get_checkpoint(self, source: str) -> SourceState | None:
        found = await self._read(
            self._query, "SELECT state FROM checkpoints WHERE source = ?", (source,)
        )
        return rows.decode_source_state(found[0][0]) if found else None

    async def list_sources(self) -> list[SourceState]:
        found = await self._read(self._query, "SELECT state FROM checkpoints ORDER BY source", ())
        return [rows.decode_source_state(state) for (state,) in found]

    async def count_posts(self) -> int:
        return (await self._read(self._query, "SELECT count(*) FROM posts", ()))[0][0]

    async def stats(self) -> StoreStats:
        """Totals for the dashboard: ``by_category`` counts flagged posts per category,
        ``by_platform`` counts all posts per platform (what was collected where)."""
        return await self._read(self._stats)

    def _stats(self) -> StoreStats:
        with self._snapshot() as con:
            posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
            flagged = con.execute("SELECT count(*) FROM posts WHERE flagged = 1").fetchone()[0]
            accounts, flagged_accounts = con.execute(
                "SELECT count(*), coalesce(sum(flagged), 0) FROM accounts"
            ).fetchone()
            rejects = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
            by_category = con.execute(
                "SELECT c.category, count(*) FROM posts p"
                " CROSS JOIN post_categories c ON c.post = p.id WHERE p.flagged = 1"
                " GROUP BY c.category"
            ).fetchall()
            by_platform = con.execute(
                "SELECT platform, count(*) FROM posts GROUP BY platform"
            ).fetchall()
        return StoreStats(
            posts=posts,
            flagged_posts=flagged,
            accounts=accounts,
            flagged_accounts=flagged_accounts,
            rejects=rejects,
            by_category={str(k): n for k, n in by_category},
            by_platform={str(k): n for k, n in by_platform},
        )

    def _query(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        with self._snapshot() as con:
            return con.execute(sql, params).fetchall()


def _hits_by_id(con: sqlite3.Connection, ids: list[int], terms: list[str]) -> list[SearchHit]:
    """The full hits for a page of post ids, in the order given: only the page's rows
    are joined to verdicts and reviews."""
    if not ids:
        return []
    sql = (
        f"SELECT p.id AS id, {rows.HIT_COLUMNS} {rows.HIT_FROM}"  # noqa: S608
        " WHERE p.id IN (SELECT value FROM json_each(?))"
    )
    found = {row["id"]: row for row in con.execute(sql, (rows.json_list(ids),))}
    return [rows.hit_from_row(found[i], terms) for i in ids if i in found]


def _record_rejects(con: sqlite3.Connection, params: list[tuple[object, ...]]) -> None:
    con.executemany(
        "INSERT INTO rejects (source, location, reason, sample, at) VALUES (?, ?, ?, ?, ?)",
        params,
    )


def _set_review(con: sqlite3.Connection, values: tuple[object, ...]) -> None:
    con.execute(
        "INSERT INTO reviews (target, status, note, reviewer, at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (target) DO UPDATE SET status = excluded.status,"
        " note = excluded.note, reviewer = excluded.reviewer, at = excluded.at",
        values,
    )
    con.execute(
        "INSERT INTO review_history (target, status, note, reviewer, at) VALUES (?, ?, ?, ?, ?)",
        values,
    )
