"""Set-wise writes (pipeline.store.sqlite_sets): the same rows as one statement per row,
in a number of statements that does not grow with the batch."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from store_factories import scored

from pipeline.store import sqlite_rows, sqlite_sets
from pipeline.store.sqlite import SqliteStore
from pipeline.store.sqlite_sets import CHUNK_SIZES, RowsDelete, RowsInsert, chunks
from pipeline.store.sqlite_writer import ThreadWriter

UPSERT = RowsInsert(
    "INSERT INTO t (k, a, b)", 3, "ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b"
)


def table() -> sqlite3.Connection:
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.execute("CREATE TABLE t (k TEXT PRIMARY KEY, a, b, tag TEXT NOT NULL DEFAULT '')")
    return con


@given(st.integers(min_value=0, max_value=3_000))
def test_chunks_cover_every_row_once_in_the_fixed_sizes(count: int) -> None:
    spans = list(chunks(count))
    covered = [i for start, size in spans for i in range(start, start + size)]
    assert covered == list(range(count))
    assert {size for _, size in spans} <= set(CHUNK_SIZES)
    # at most one span of each size below the largest: few distinct statements
    assert len(spans) <= count // CHUNK_SIZES[0] + len(CHUNK_SIZES) - 1


@pytest.mark.parametrize("count", [0, 1, 7, 128, 513, 1_100])
def test_an_insert_writes_exactly_the_rows(count: int) -> None:
    con = table()
    rows = [(f"k{i}", i, f"文本 {i} 😀") for i in range(count)]
    UPSERT.run(con, rows)
    assert con.execute("SELECT k, a, b FROM t ORDER BY a").fetchall() == rows


def test_values_survive_as_bound_not_as_text() -> None:
    """NUL, quotes, None and floats: parameters, never SQL or JSON text."""
    con = table()
    rows = [("a\x00b", None, 1.5), ("'; DROP TABLE t; --", 0.0, '"q" \\ \u2028'), ("é", 7, None)]
    UPSERT.run(con, rows)
    assert sorted(con.execute("SELECT k, a, b FROM t").fetchall(), key=str) == sorted(rows, key=str)


def test_the_last_copy_of_a_key_wins_as_with_one_statement_per_row() -> None:
    con = table()
    UPSERT.run(con, [("k", 1, "first"), ("j", 2, "x"), ("k", 3, "last")])
    assert con.execute("SELECT k, a, b FROM t ORDER BY k").fetchall() == [
        ("j", 2, "x"),
        ("k", 3, "last"),
    ]


def test_a_delete_removes_exactly_the_values_under_its_condition() -> None:
    con = table()
    con.executemany(
        "INSERT INTO t (k, a, tag) VALUES (?, ?, ?)",
        [(f"k{i}", i, "keep" if i % 3 == 0 else "") for i in range(300)],
    )
    RowsDelete("t", "a", "tag = ''").run(con, list(range(0, 300, 2)))
    left = {a for (a,) in con.execute("SELECT a FROM t")}
    assert left == {i for i in range(300) if i % 2 or i % 3 == 0}


async def test_a_batch_takes_a_bounded_number_of_statements(tmp_path: Path) -> None:
    """The point of the module: statements (each a GIL hand-over on the writer thread)
    do not grow with the batch. One statement per row would be thousands here."""
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    try:
        batch = [
            scored(f"p{i}", f"全额退保 加V: tb{i:04d} 第{i}条", contacts=[f"wechat:tb{i:04d}"])
            for i in range(1_000)
        ]
        executed: list[str] = []
        assert isinstance(store._writer, ThreadWriter)
        con = store._writer.connection
        assert con is not None
        con.set_trace_callback(executed.append)
        await store.write_batch(batch)
        await store.write_batch([*batch[:10], scored("p0", "改写的文本 停息挂账")])
        con.set_trace_callback(None)
        # ours only: "-- " marks what SQLite runs inside a step (FTS5's shadow tables)
        ours = [sql for sql in executed if not sql.startswith("--")]
        # 1,000 posts, 6 tables, each in at most len(CHUNK_SIZES) chunks, plus lookups
        assert 10 < len(ours) < 6 * (1_000 // CHUNK_SIZES[0] + len(CHUNK_SIZES)) + 20
        assert await store.count_posts() == 1_000
    finally:
        await store.close()


def test_every_statement_stays_within_sqlites_parameter_limit() -> None:
    from pipeline.store import sqlite_writes

    inserts = [v for m in (sqlite_rows, sqlite_writes) for v in vars(m).values()]
    widths = [i.width for i in inserts if isinstance(i, RowsInsert)]
    assert widths and max(widths) * sqlite_sets.CHUNK_SIZES[0] <= 32_766


async def test_a_replayed_batch_with_odd_text_reads_back_whole(tmp_path: Path) -> None:
    """Stored posts are looked up as one JSON row; their text must come back whole (NUL,
    quotes, emoji) so that the FTS delete removes exactly the tokens indexed."""
    store = SqliteStore(tmp_path / "radar.sqlite3")
    await store.open()
    try:
        odd = scored("p1", '全额\x00退保 "vx" \\ 😀')
        await store.write_batch([odd, scored("p2", "停息挂账")])
        await store.write_batch([odd, scored("p2", "改成征信修复")])  # a replay and a rewrite
    finally:
        await store.close()
    con = sqlite3.connect(tmp_path / "radar.sqlite3")
    texts = dict(con.execute("SELECT post_id, text FROM posts"))
    assert texts == {"p1": '全额\x00退保 "vx" \\ 😀', "p2": "改成征信修复"}
    hits = {r for (r,) in con.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH '停息'")}
    assert hits == set()
    assert con.execute(
        "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH '征信'"
    ).fetchone() == (1,)


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1),
        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=8))]),
    )
)
@example(datetime(2025, 3, 14, 8, 0, 0, tzinfo=UTC))  # whole seconds: the encoder's short form
@example(datetime(2025, 3, 14, 8, 0, 0, 1, tzinfo=timezone(timedelta(hours=8))))
def test_stored_times_are_fixed_width_utc_whatever_the_zone(value: datetime) -> None:
    """The UTC fast path and the general one write the same text; a naive time is UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    text = sqlite_rows.to_text(value)
    assert text is not None and len(text) == len("2025-03-14T08:00:00.000000Z")
    assert datetime.fromisoformat(text) == aware


_ZONED = st.datetimes(
    min_value=datetime(1970, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
)


@given(_ZONED, _ZONED)
@example(
    datetime(2025, 3, 14, 8, 0, 0, tzinfo=UTC), datetime(2025, 3, 14, 8, 0, 0, 500_000, tzinfo=UTC)
)
def test_stored_times_sort_as_the_times_do(first: datetime, second: datetime) -> None:
    """Since/until filters and "newest first" compare the stored text, never datetimes."""
    before, after = sqlite_rows.to_text(first), sqlite_rows.to_text(second)
    assert before is not None and after is not None
    assert (before < after) == (first < second)
    assert (before == after) == (first == second)
