"""Versioned schema migrations for the SQLite store.

Migrations are numbered SQL files in ``pipeline/store/migrations/`` (``0001_initial.sql``,
``0002_....sql``), loaded with :mod:`importlib.resources` so they ship inside the wheel.
The database records the last one applied in ``PRAGMA user_version``, which lives in the
file header: no bookkeeping table to keep in sync, and it changes in the same transaction
as the schema it describes.

Why one ``BEGIN IMMEDIATE`` around the whole run: two processes opening a fresh database
at once must not both apply 0001. The write lock is taken *before* the version is read,
so the second process waits (busy_timeout), then sees the new version and does nothing.
A database newer than this code is refused rather than half-understood.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this version of the code."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The bundled migrations, in order; numbering must run 1, 2, 3, ... without gaps."""
    folder = resources.files("pipeline.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise SchemaError(
                f"migration {migration.name} is out of sequence: expected {expected:04d}"
            )
    return found


def statements(sql: str) -> list[str]:
    """Split a script into complete statements (``executescript`` would commit our
    transaction first, so each statement is executed on its own)."""
    out: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise SchemaError(f"incomplete SQL statement at end of migration: {pending.strip()[:60]}")
    return out


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def schema_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def migrate(con: sqlite3.Connection, migrations: list[Migration] | None = None) -> int:
    """Bring the schema up to date in one transaction; returns the resulting version.

    ``con`` must be in autocommit mode (``isolation_level=None``). Idempotent: an
    up-to-date database is left untouched.
    """
    migrations = load_migrations() if migrations is None else migrations
    latest = migrations[-1].version if migrations else 0
    con.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(con)
        if current > latest:
            raise SchemaError(
                f"database schema version {current} is newer than this code knows "
                f"(latest {latest}); upgrade heichan-radar or open a different database"
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            for statement in statements(migration.sql):
                con.execute(statement)
            # PRAGMA takes no parameters; the value is our own int, never user input.
            con.execute(f"PRAGMA user_version = {int(migration.version)}")
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:  # SQLite may have rolled back already
            con.execute("ROLLBACK")
        raise
    return max(current, latest)
