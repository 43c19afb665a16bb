"""Per-source health and collection history, kept beside the store.

Why: ``radar sources`` runs in another process than ``radar run`` and must still say
"cooling down until …" and "posts in the last hour", and a cool-down must survive a
restart (or a restart would be a way to hammer a platform that just pushed back).

The SQLite log keeps two small tables in the store's file. They are created here with
``IF NOT EXISTS`` rather than by a numbered migration, because they are operational
history, not part of the ``Store`` contract (an Elasticsearch deployment keeps them in
memory or its own index); the lead may fold them into ``0002_*.sql`` later. Each call
opens its own short connection on a worker thread: runs end at most every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec

from collectors.health import SourceHealth

log = logging.getLogger("radar.runner")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS source_health (
        source     TEXT NOT NULL PRIMARY KEY,
        data       TEXT NOT NULL,             -- SourceHealth.snapshot() as JSON
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS source_runs (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        finished_at TEXT NOT NULL,            -- UTC ISO, sorts as text
        outcome     TEXT NOT NULL,            -- ok | failed | cooldown | shape | skipped
        posts       INTEGER NOT NULL DEFAULT 0,
        rejects     INTEGER NOT NULL DEFAULT 0,
        error       TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS source_runs_source ON source_runs (source, finished_at)",
)
KEEP_RUNS_DAYS = 7


@dataclass(frozen=True)
class RunRecord:
    source: str
    finished_at: datetime
    outcome: str
    posts: int = 0
    rejects: int = 0
    error: str | None = None


class HealthLog(Protocol):
    async def save(self, source: str, snapshot: dict[str, Any]) -> None: ...

    async def record_run(self, run: RunRecord) -> None: ...

    async def load(self) -> dict[str, dict[str, Any]]: ...

    async def posts_since(self, since: datetime) -> dict[str, int]: ...


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MemoryHealthLog:
    """For stores without a file (tests, fakes): lives as long as the process."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}
        self.runs: list[RunRecord] = []

    async def save(self, source: str, snapshot: dict[str, Any]) -> None:
        self.saved[source] = snapshot

    async def record_run(self, run: RunRecord) -> None:
        self.runs.append(run)

    async def load(self) -> dict[str, dict[str, Any]]:
        return dict(self.saved)

    async def posts_since(self, since: datetime) -> dict[str, int]:
        totals: dict[str, int] = {}
        for run in self.runs:
            if run.finished_at >= since:
                totals[run.source] = totals.get(run.source, 0) + run.posts
        return totals


class SqliteHealthLog:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        if not self._ready:
            for statement in _SCHEMA:
                con.execute(statement)
            self._ready = True
        return con

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        con = self._connect()
        try:
            return con.execute(sql, tuple(params)).fetchall()
        finally:
            con.close()

    async def save(self, source: str, snapshot: dict[str, Any]) -> None:
        data = msgspec.json.encode(snapshot).decode()
        await asyncio.to_thread(
            self._run,
            "INSERT INTO source_health (source, data, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET data = excluded.data, "
            "updated_at = excluded.updated_at",
            (source, data, _iso(datetime.now(UTC))),
        )

    async def record_run(self, run: RunRecord) -> None:
        await asyncio.to_thread(self._record_run, run)

    def _record_run(self, run: RunRecord) -> None:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "INSERT INTO source_runs (source, finished_at, outcome, posts, rejects, error) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.source,
                    _iso(run.finished_at),
                    run.outcome,
                    run.posts,
                    run.rejects,
                    run.error,
                ),
            )
            cutoff = datetime.now(UTC).timestamp() - KEEP_RUNS_DAYS * 86400
            con.execute(
                "DELETE FROM source_runs WHERE source = ? AND finished_at < ?",
                (run.source, _iso(datetime.fromtimestamp(cutoff, UTC))),
            )
            con.execute("COMMIT")
        finally:
            con.close()

    async def load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        found = await asyncio.to_thread(self._run, "SELECT source, data FROM source_health")
        return {source: msgspec.json.decode(data) for source, data in found}

    async def posts_since(self, since: datetime) -> dict[str, int]:
        if not self.path.exists():
            return {}
        found = await asyncio.to_thread(
            self._run,
            "SELECT source, sum(posts) FROM source_runs WHERE finished_at >= ? GROUP BY source",
            (_iso(since),),
        )
        return {source: int(total or 0) for source, total in found}


def health_log_for(store: object) -> HealthLog:
    """The SQLite log beside a SQLite store; memory for any other store."""
    path = getattr(store, "path", None)
    from pipeline.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore) and isinstance(path, Path):
        return SqliteHealthLog(path)
    return MemoryHealthLog()


async def record_run(
    health_log: HealthLog,
    name: str,
    health: SourceHealth,
    outcome: str,
    posts: int,
    rejects: int,
) -> None:
    """Append the run to the history and save the health; never fails the run."""
    run = RunRecord(
        source=name,
        finished_at=datetime.now(UTC),
        outcome=outcome,
        posts=posts,
        rejects=rejects,
        error=None if outcome == "ok" else health.last_error,
    )
    try:
        await health_log.record_run(run)
        await health_log.save(name, health.snapshot())
    except Exception as exc:  # history is for operators; collecting matters more
        log.warning("source %s: cannot record run history: %s", name, exc)


async def restore_health(health_log: HealthLog, healths: dict[str, SourceHealth]) -> None:
    """Carry cool-downs and last outcomes over a restart."""
    try:
        saved = await health_log.load()
    except Exception as exc:
        log.warning("cannot read source health history: %s", exc)
        return
    for name, health in healths.items():
        if name in saved:
            health.restore(saved[name])
            if health.cooling():
                log.warning("source %s: still cooling down until %s", name, health.cooldown_until)
