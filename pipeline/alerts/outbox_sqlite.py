"""The outbox as a table (migration ``0003_alerts.sql``) in the store's SQLite file.

A connection of its own, beside the store's: the store's writer is busy with batches, and
the outbox's writes are tiny and rare. Both use WAL on the same file, so they never block
readers; SQLite's single writer lock serialises them (``busy_timeout`` waits). Every call
is one ``BEGIN IMMEDIATE`` transaction on one worker thread, which is what makes
:meth:`record` (read the slot's newest, insert the next) and :meth:`due` (select, claim)
atomic against another process doing the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from pipeline.alerts.outbox import (
    DEFAULT_LEASE_SECONDS,
    empty_counts,
    fresh_alert,
    short_error,
    still_quiet,
    utc,
)
from pipeline.models import Alert, AlertStatus, ReviewStatus
from pipeline.store.migrate import migrate

T = TypeVar("T")
_COLUMNS = "id, status, attempts, next_attempt_at, last_error, sent_at, data"


def iso(when: datetime | None) -> str | None:
    return None if when is None else utc(when).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class SqliteOutbox:
    """:class:`pipeline.alerts.outbox.Outbox` in the store's SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self.lease = timedelta(seconds=lease_seconds)
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._con: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Alert)

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="alerts-outbox")
        try:
            await self._run(self._open)
        except BaseException:
            await self.close()
            raise

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            con.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            migrate(con)  # idempotent; the store may not have opened this file yet
        except BaseException:
            con.close()
            raise
        self._con = con

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, self._close)
        await loop.run_in_executor(None, pool.shutdown)

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            raise RuntimeError("SqliteOutbox is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        con = self._con
        if con is None:
            raise RuntimeError("SqliteOutbox is not open")
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    # -- the protocol ----------------------------------------------------------------

    async def record(self, alerts: Sequence[Alert], now: datetime) -> list[Alert]:
        if not alerts:
            return []
        return await self._run(self._record, list(alerts), utc(now))

    def _record(self, alerts: list[Alert], now: datetime) -> list[Alert]:
        recorded: list[Alert] = []
        with self._transaction() as con:
            for alert in alerts:
                newest = con.execute(
                    "SELECT seq, created_at FROM alerts WHERE dedupe_key = ? AND channel = ?"
                    " ORDER BY seq DESC LIMIT 1",
                    (alert.dedupe_key, alert.channel),
                ).fetchone()
                if newest is not None and still_quiet(alert, parse(newest[1]), now):
                    continue
                seq = 1 if newest is None else int(newest[0]) + 1
                fresh = fresh_alert(alert, seq, now)
                con.execute(
                    "INSERT INTO alerts (id, dedupe_key, channel, seq, rule, account_key,"
                    " created_at, status, attempts, next_attempt_at, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    (
                        fresh.id,
                        fresh.dedupe_key,
                        fresh.channel,
                        seq,
                        fresh.rule,
                        fresh.account_key,
                        iso(fresh.created_at),
                        str(AlertStatus.PENDING),
                        iso(now),
                        self._encoder.encode(fresh).decode(),
                    ),
                )
                recorded.append(fresh)
        return recorded

    async def due(self, now: datetime, limit: int = 50) -> list[Alert]:
        return await self._run(self._due, utc(now), max(0, int(limit)))

    def _due(self, now: datetime, limit: int) -> list[Alert]:
        with self._transaction() as con:
            found = con.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE status = ? AND next_attempt_at <= ?"  # noqa: S608 (fixed columns)
                " ORDER BY next_attempt_at, id LIMIT ?",
                (str(AlertStatus.PENDING), iso(now), limit),
            ).fetchall()
            lease_end = iso(now + self.lease)
            con.executemany(
                "UPDATE alerts SET next_attempt_at = ? WHERE id = ?",
                [(lease_end, row[0]) for row in found],
            )
        return [self._alert(row) for row in found]

    async def mark_sent(self, alert_id: str, now: datetime) -> None:
        await self._run(
            self._update,
            "UPDATE alerts SET status = ?, sent_at = ?, attempts = attempts + 1,"
            " next_attempt_at = NULL, last_error = NULL WHERE id = ?",
            (str(AlertStatus.SENT), iso(now), alert_id),
        )

    async def mark_failed(
        self, alert_id: str, error: str, next_attempt_at: datetime | None
    ) -> None:
        status = AlertStatus.PENDING if next_attempt_at is not None else AlertStatus.FAILED
        await self._run(
            self._update,
            "UPDATE alerts SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " last_error = ? WHERE id = ?",
            (str(status), iso(next_attempt_at), short_error(error), alert_id),
        )

    def _update(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._transaction() as con:
            con.execute(sql, params)

    async def list(self, status: AlertStatus | str | None = None, limit: int = 100) -> list[Alert]:
        if status is None:
            sql = f"SELECT {_COLUMNS} FROM alerts ORDER BY created_at DESC, id DESC LIMIT ?"  # noqa: S608
            params: tuple[Any, ...] = (max(0, int(limit)),)
        else:
            sql = (
                f"SELECT {_COLUMNS} FROM alerts WHERE status = ?"  # noqa: S608 (fixed columns)
                " ORDER BY created_at DESC, id DESC LIMIT ?"
            )
            params = (str(AlertStatus(status)), max(0, int(limit)))
        found = await self._run(self._select, sql, params)
        return [self._alert(row) for row in found]

    async def counts(self) -> dict[str, int]:
        found = await self._run(
            self._select, "SELECT status, count(*) FROM alerts GROUP BY status", ()
        )
        counts = empty_counts()
        counts.update({str(status): int(n) for status, n in found})
        return counts

    async def dismissed(self, targets: Sequence[str]) -> set[str]:
        if not targets:
            return set()
        found = await self._run(
            self._select,
            "SELECT target FROM reviews WHERE status = ?"
            " AND target IN (SELECT value FROM json_each(?))",
            (str(ReviewStatus.DISMISSED), msgspec.json.encode(list(targets)).decode()),
        )
        return {str(target) for (target,) in found}

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        con = self._con
        if con is None:
            raise RuntimeError("SqliteOutbox is not open")
        return con.execute(sql, params).fetchall()  # one statement: its own snapshot

    def _alert(self, row: tuple[Any, ...]) -> Alert:
        """The stored alert with its delivery state from the columns (they move; the
        JSON is the alert as recorded)."""
        _id, status, attempts, next_at, last_error, sent_at, data = row
        return msgspec.structs.replace(
            self._decoder.decode(data),
            id=_id,
            status=AlertStatus(status),
            attempts=int(attempts),
            next_attempt_at=parse(next_at),
            last_error=last_error,
            sent_at=parse(sent_at),
        )
