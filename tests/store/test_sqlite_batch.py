"""A batch as the SQLite writer's rows: built once, merged as if written one by one, and
carried across the process boundary unchanged."""

from __future__ import annotations

from store_factories import account, scored

from pipeline.models import SourceState
from pipeline.store import sqlite_batch
from pipeline.store.fts import index_text
from pipeline.store.sqlite_batch import BatchRows, batch_rows, merge
from pipeline.store.sqlite_rows import POST_COLUMNS, POST_KEY

TEXT = POST_COLUMNS.index("text")


def keys(rows: BatchRows) -> list[str]:
    return [row[POST_KEY] for row in rows.posts]


def test_the_last_copy_of_a_post_in_one_batch_wins() -> None:
    rows = batch_rows([scored("p1", "旧文本"), scored("p2", "别的"), scored("p1", "新文本")])
    assert keys(rows) == ["weibo:p1", "weibo:p2"]
    assert rows.posts[0][TEXT] == "新文本"
    assert [v[0] for v in rows.verdicts] == keys(rows)  # aligned with the posts
    assert rows.bodies == [index_text("新文本"), index_text("别的")]  # and so are the tokens


def test_one_batch_merges_to_itself() -> None:
    rows = batch_rows([scored("p1", "全额退保")], [account("weibo", "u1", score=0.9, flagged=True)])
    assert merge([rows]) is rows


def test_a_later_batch_wins_a_post_with_its_child_rows() -> None:
    first = batch_rows(
        [
            scored("p1", "第一版 加old", categories=["surrender"], contacts=["wechat:old"]),
            scored("p2", "只在第一批", categories=["debt"]),
        ]
    )
    second = batch_rows(
        [scored("p1", "第二版 加new", categories=["credit"], contacts=["wechat:new"])]
    )
    merged = merge([first, second])
    assert keys(merged) == ["weibo:p2", "weibo:p1"]
    assert merged.posts[1][TEXT] == "第二版 加new"
    assert [v[0] for v in merged.verdicts] == keys(merged)
    assert merged.bodies == [index_text("只在第一批"), index_text("第二版 加new")]
    assert sorted(merged.categories) == [("weibo:p1", "credit"), ("weibo:p2", "debt")]
    assert [c for c in merged.contacts if c[1] == "weibo:p1"] == [
        ("wechat:new", "weibo:p1", "weibo:u1")
    ]


def test_the_latest_account_wins_with_only_its_own_contacts() -> None:
    older = account("weibo", "u1", score=0.2, flagged=False, contacts=["wechat:a", "qq:1"])
    newer = account("weibo", "u1", score=0.9, flagged=True, contacts=["wechat:b"])
    other = account("weibo", "u2", score=0.5, flagged=False, contacts=["qq:2"])
    merged = merge([batch_rows([], [older, other]), batch_rows([], [newer])])
    assert sorted((row[0], row[3]) for row in merged.accounts) == [
        ("weibo:u1", 0.9),
        ("weibo:u2", 0.5),
    ]
    assert sorted(merged.account_contacts) == [
        ("qq:2", "", "weibo:u2"),
        ("wechat:b", "", "weibo:u1"),  # not the union with the older copy's
    ]


def test_checkpoints_keep_their_order() -> None:
    merged = merge(
        [
            batch_rows([], [], [SourceState(name="s", cursor="1")]),
            batch_rows([], [], [SourceState(name="s", cursor="2")]),
        ]
    )
    assert [row[0] for row in merged.checkpoints] == ["s", "s"]
    assert '"2"' in merged.checkpoints[-1][1]  # upserted in order: the later one stays


def test_rows_cross_a_process_boundary_unchanged() -> None:
    """What the writer process receives: every value as built (None, floats, NUL,
    quotes, astral characters), rows still tuples for sqlite3's parameters."""
    odd = scored("p\x001", 'a "quoted" \x00 nul 𠀀 全额退保', author=None, score=0.125)
    rows = batch_rows([odd], [account("weibo", "u1", score=0.5, flagged=True)])
    back = sqlite_batch.decode(sqlite_batch.encode(rows))
    assert back == rows
    assert all(isinstance(row, tuple) for row in back.posts + back.verdicts + back.accounts)
