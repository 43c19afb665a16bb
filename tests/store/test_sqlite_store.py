"""What only the SQLite store promises: WAL, versioned migrations, safe FTS, atomic batches."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import msgspec
import pytest
from store_factories import ACCOUNTS, P1, P2, POSTS, scored

from pipeline.models import Reject, SearchQuery, SourceState
from pipeline.store.fts import index_tokens, quote
from pipeline.store.migrate import Migration, SchemaError, load_migrations, migrate, statements
from pipeline.store.sqlite import SqliteStore

LATEST = load_migrations()[-1].version


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "radar.sqlite3"


@pytest.fixture
async def sqlite_store(db_path: Path):
    store = SqliteStore(db_path)
    await store.open()
    yield store
    await store.close()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_open_creates_the_parent_dir_in_wal_mode(sqlite_store: SqliteStore, db_path):
    assert db_path.exists()
    con = raw(db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == load_migrations()[-1].version


async def test_writer_enforces_foreign_keys(sqlite_store: SqliteStore) -> None:
    # A verdict for a post that does not exist is refused: the pragma is on.
    def orphan(con: sqlite3.Connection) -> None:
        con.execute("INSERT INTO verdicts (post_key, flagged, score) VALUES ('x:1', 1, 1)")

    with pytest.raises(sqlite3.IntegrityError):
        await sqlite_store._write(orphan)


async def test_reopening_keeps_data_and_schema(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.write_batch(POSTS, ACCOUNTS, [SourceState(name="s", cursor="c1")])
    await store.close()

    again = SqliteStore(db_path)
    await again.open()
    try:
        assert await again.count_posts() == len(POSTS)
        assert (await again.search(SearchQuery(q="全额退保"))).total == 1
        assert (await again.get_checkpoint("s")) == SourceState(name="s", cursor="c1")
    finally:
        await again.close()
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(statements(m.sql) for m in migrations)


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    con = raw(tmp_path / "m.sqlite3")
    assert migrate(con) == LATEST
    tables = con.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    assert migrate(con) == LATEST
    assert con.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == tables


def test_migrate_applies_only_pending_versions_in_one_step(tmp_path: Path) -> None:
    con = raw(tmp_path / "m.sqlite3")
    first = [*load_migrations()]
    migrate(con, first)
    extra = Migration(LATEST + 1, "extra.sql", "CREATE TABLE extra (x INTEGER);")
    assert migrate(con, [*first, extra]) == LATEST + 1
    assert con.execute("SELECT count(*) FROM extra").fetchone()[0] == 0

    broken = Migration(LATEST + 2, "broken.sql", "CREATE TABLE ok3 (x);\nCREATE TABLE extra (x);")
    with pytest.raises(sqlite3.OperationalError):
        migrate(con, [*first, extra, broken])
    # The failed migration left nothing behind: no half-applied table, version unchanged.
    assert con.execute("PRAGMA user_version").fetchone()[0] == LATEST + 1
    assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'ok3'").fetchall()


async def test_a_newer_schema_is_refused_with_a_clear_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw(db_path).execute("PRAGMA user_version = 999")
    store = SqliteStore(db_path)
    with pytest.raises(SchemaError, match="version 999 is newer"):
        await store.open()
    with pytest.raises(RuntimeError, match="not open"):
        await store.count_posts()


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "*",
        "NEAR(",
        "NEAR(退保 口子, 2)",
        "OR",
        "退保 OR 口子",
        "-",
        "-退保",
        "退保 NOT 口子",
        "body:退保",
        "{body}:退保",
        "^退保",
        '"退保',
        '退保" OR "x',
        "退保*",
        "(((",
        "'; DROP TABLE posts; --",
        "\x00",
        "AND",
    ],
)
async def test_fts_syntax_in_queries_is_just_text(sqlite_store: SqliteStore, q: str) -> None:
    await sqlite_store.write_batch(POSTS)
    result = await sqlite_store.search(SearchQuery(q=q))
    assert result.total == len(result.results)
    assert await sqlite_store.count_posts() == len(POSTS)


async def test_operators_are_searched_as_words(sqlite_store: SqliteStore) -> None:
    await sqlite_store.write_batch(
        [scored("or", "代理退保 or 停息挂账"), scored("plain", "代理退保 停息挂账")]
    )
    found = await sqlite_store.search(SearchQuery(q="退保 OR"))
    assert [h.post.key for h in found.results] == ["weibo:or"]


async def test_a_failing_batch_commits_nothing(sqlite_store: SqliteStore) -> None:
    bad = scored("bad", "退保")
    # a NOT NULL column refused by SQLite after the batch's posts went in
    bad = msgspec.structs.replace(
        bad, verdict=msgspec.structs.replace(bad.verdict, detector_version=None)
    )
    checkpoint = SourceState(name="s", cursor="after-bad")
    with pytest.raises(sqlite3.IntegrityError):
        await sqlite_store.write_batch([P1, bad, P2], [], [checkpoint])
    assert await sqlite_store.count_posts() == 0
    assert await sqlite_store.get_checkpoint("s") is None
    assert (await sqlite_store.search(SearchQuery(q="全额退保"))).total == 0
    # The writer is usable afterwards.
    await sqlite_store.write_batch([P1])
    assert await sqlite_store.count_posts() == 1


async def test_index_is_rebuilt_when_the_tokenizer_version_changes(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.write_batch(POSTS)
    await store.close()
    con = raw(db_path)
    con.execute("UPDATE store_meta SET value = 'old-scheme' WHERE key = 'fts_tokenizer'")
    con.execute("INSERT INTO posts_fts (posts_fts) VALUES ('delete-all')")
    con.close()

    store = SqliteStore(db_path)
    await store.open()
    try:
        assert (await store.search(SearchQuery(q="全额退保"))).total == 1
    finally:
        await store.close()
    assert raw(db_path).execute(
        "SELECT value FROM store_meta WHERE key = 'fts_tokenizer'"
    ).fetchone() == ("cjk-bigram-1",)


async def test_fts_index_matches_current_text_after_rewrites(sqlite_store, db_path) -> None:
    # A contentless index must be told exactly which tokens to delete; FTS5's own
    # integrity-check cannot see a wrong delete there, so compare every token instead.
    rewritten = scored("p1", "改了的文本，停息挂账，ＶＸ同号")
    await sqlite_store.write_batch(POSTS)
    await sqlite_store.write_batch(POSTS)
    await sqlite_store.write_batch([rewritten])
    con = raw(db_path)
    texts = dict(con.execute("SELECT id, text FROM posts"))
    tokens = {t for text in [*texts.values(), P1.post.text] for t in index_tokens(text)}
    for token in sorted(tokens):
        found = {
            r
            for (r,) in con.execute(
                "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?", (quote(token),)
            )
        }
        expected = {i for i, text in texts.items() if token in index_tokens(text)}
        assert found == expected, token
    assert con.execute("SELECT count(*) FROM contacts WHERE post_key = 'weibo:p1'").fetchone() == (
        0,
    )


async def test_reads_do_not_block_the_event_loop(sqlite_store: SqliteStore) -> None:
    posts = [scored(f"n{i}", f"代理退保第{i}条，口子秒下" * 20) for i in range(3000)]
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await sqlite_store.write_batch(posts)
    await sqlite_store.search(SearchQuery(q="口子", page_size=100))
    done.set()
    await task
    assert ticks > 10


async def test_reads_see_committed_writes_while_writing(sqlite_store: SqliteStore) -> None:
    await sqlite_store.write_batch([P1])
    many = [scored(f"w{i}", "停息挂账" * 50) for i in range(2000)]
    write = asyncio.create_task(sqlite_store.write_batch(many))
    # A concurrent reader sees either the snapshot before the batch or after it, whole.
    count = await sqlite_store.count_posts()
    assert count in (1, 2001)
    await write
    assert await sqlite_store.count_posts() == 2001


async def test_reject_samples_are_capped(sqlite_store: SqliteStore, db_path: Path) -> None:
    await sqlite_store.record_rejects(
        [Reject(source="s", location="l1", reason="r", sample="x" * 10**6)]
    )
    (length,) = raw(db_path).execute("SELECT length(sample) FROM rejects").fetchone()
    assert length == 2_000
    assert (await sqlite_store.stats()).rejects == 1


async def test_migration_0005_drops_rings_written_with_accounts(db_path: Path) -> None:
    """Before 0005 an account row carried whatever ring its writer had; afterwards only
    the ring job's saved rings are read back."""
    db_path.parent.mkdir(parents=True)
    con = raw(db_path)
    migrate(con, load_migrations()[:4])
    old = msgspec.structs.replace(ACCOUNTS[0], ring="ring-old")
    con.execute(
        "INSERT INTO accounts (key, platform, account_id, score, flagged, ring, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (old.key, old.platform, old.account_id, old.score, 1, old.ring, msgspec.json.encode(old)),
    )
    con.close()

    store = SqliteStore(db_path)
    await store.open()
    try:
        assert await store.get_account("weibo", "u1") == ACCOUNTS[0]  # ring None
    finally:
        await store.close()
    assert (
        raw(db_path).execute("SELECT count(*) FROM accounts WHERE ring IS NOT NULL").fetchone()[0]
        == 0
    )
