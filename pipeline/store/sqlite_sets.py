"""Set-wise statements for the SQLite writer: many rows per statement, as one multi-row
``VALUES`` list (or one ``IN`` list), so SQLite does a table's share of a batch in a
handful of steps.

Why not ``executemany``: the writer runs on its own thread beside the detector, and
Python's sqlite3 releases the GIL around every ``sqlite3_step``, which ``executemany``
calls once per row. Each time, the writer must win the GIL back from a busy event loop,
which may keep it for the whole switch interval (5 ms): a 500-post batch made thousands
of such hand-overs, so the writer ran only while the loop had nothing to do, and a
worker's detection and storage added up instead of overlapping on two cores. With a few
statements per table, SQLite's own work (B-trees, indexes, FTS) runs without the GIL.
Measured in bench/README.md ("Scale-out stream").

Rows go in chunks of power-of-two sizes, so that whatever a batch holds, each table
needs at most :data:`CHUNK_SIZES` distinct statements and sqlite3's statement cache
keeps them all prepared. The largest chunk stays far below SQLite's 32,766 host
parameters for every table here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

CHUNK_SIZES = (512, 256, 128, 64, 32, 16, 8, 4, 2, 1)


def chunks(count: int) -> Iterator[tuple[int, int]]:
    """``(start, size)`` spans covering ``range(count)``, sizes from :data:`CHUNK_SIZES`."""
    start = 0
    for size in CHUNK_SIZES:
        while count - start >= size:
            yield start, size
            start += size


@dataclass(frozen=True)
class _Chunked:
    """A statement for ``count`` rows or values, built once per count: the sqlite3 cache
    keys on the SQL text, and :func:`chunks` keeps the counts to a few."""

    _sql: dict[int, str] = field(default_factory=dict, compare=False, repr=False, kw_only=True)

    def statement(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            sql = self._sql[count] = self._build(count)
        return sql

    def _build(self, count: int) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class RowsInsert(_Chunked):
    """``INSERT [OR …] INTO table (columns) VALUES … [ON CONFLICT …]`` for many rows.

    ``into`` is the statement's head up to and including its column list, ``width`` the
    number of columns, ``tail`` what follows the values (an upsert clause). All three
    are constants of this package, never user text."""

    into: str
    width: int
    tail: str = ""

    def _build(self, count: int) -> str:
        row = "(" + ", ".join("?" * self.width) + ")"
        return f"{self.into} VALUES {', '.join([row] * count)} {self.tail}"

    def run(self, con: sqlite3.Connection, rows: Sequence[Sequence[object]]) -> None:
        for start, size in chunks(len(rows)):
            params = [value for row in rows[start : start + size] for value in row]
            con.execute(self.statement(size), params)


@dataclass(frozen=True)
class RowsDelete(_Chunked):
    """``DELETE FROM table WHERE [condition AND] column IN (…)`` for many values (table,
    column and condition are constants of this package)."""

    table: str
    column: str
    condition: str = ""

    def _build(self, count: int) -> str:
        where = f"{self.condition} AND " if self.condition else ""
        marks = ", ".join("?" * count)
        return f"DELETE FROM {self.table} WHERE {where}{self.column} IN ({marks})"  # noqa: S608

    def run(self, con: sqlite3.Connection, values: Sequence[object]) -> None:
        for start, size in chunks(len(values)):
            con.execute(self.statement(size), values[start : start + size])
