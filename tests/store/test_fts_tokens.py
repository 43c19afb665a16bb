"""CJK bigram tokenisation and the MATCH expressions built from it."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.store.fts import index_text, index_tokens, match_expression, query_terms, quote


def test_cjk_runs_become_overlapping_bigrams() -> None:
    assert index_tokens("全额退保") == ["全额", "额退", "退保"]


def test_single_cjk_characters_and_latin_words_stay_whole() -> None:
    assert index_tokens("保 vx123 口子") == ["保", "vx123", "口子"]


def test_punctuation_splits_runs() -> None:
    assert index_tokens("全额，退保！") == ["全额", "退保"]


def test_width_and_case_are_folded() -> None:
    assert index_tokens("加ＶＸ：ABC１２３") == ["加", "vx", "abc123"]
    assert index_tokens("ﾃｽﾄ") == ["テス", "スト"]  # half-width katakana → full-width


def test_query_terms_are_folded_and_deduplicated() -> None:
    assert query_terms("VX 退保 vx，退保") == ["vx", "退保"]


def test_match_expression_quotes_every_token() -> None:
    assert match_expression("全额退保 vx") == '"全额" + "额退" + "退保" AND "vx"'
    assert match_expression('" OR NEAR(') == '"or" AND "near"'
    assert match_expression("保") == '"保"*'
    assert match_expression("，。") is None
    assert match_expression("") is None


def test_quote_doubles_embedded_quotes() -> None:
    assert quote('a"b') == '"a""b"'


@pytest.fixture(scope="module")
def fts_db() -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE VIRTUAL TABLE t USING fts5(body, content='',"
        " tokenize='unicode61 remove_diacritics 0')"
    )
    texts = ["专业全额退保，加vx", "口子秒下", "退保全额", "保险"]
    con.executemany(
        "INSERT INTO t (rowid, body) VALUES (?, ?)",
        [(i, index_text(text)) for i, text in enumerate(texts, 1)],
    )
    return con


def matches(con: sqlite3.Connection, q: str) -> set[int]:
    expr = match_expression(q)
    if expr is None:
        return set()
    return {r for (r,) in con.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))}


def test_phrases_match_only_contiguous_text(fts_db: sqlite3.Connection) -> None:
    assert matches(fts_db, "全额退保") == {1}
    assert matches(fts_db, "退保") == {1, 3}
    assert matches(fts_db, "口子") == {2}
    assert matches(fts_db, "VX 退保") == {1}
    # One character is a prefix query: 保险 and 退保全额 (its bigram 保全) match; in
    # 专业全额退保 the 保 only ends a run, so it is not found (a documented limit).
    assert matches(fts_db, "保") == {3, 4}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_user_text_yields_a_valid_match_expression(fts_db: sqlite3.Connection, q: str) -> None:
    # Any string at all: the expression is ours, so FTS5 never sees a syntax error.
    matches(fts_db, q)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='全额退保口子代理vxVX ，!"*()-', max_size=30))
def test_a_text_always_matches_its_own_terms(q: str) -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE t USING fts5(body, content='')")
    con.execute("INSERT INTO t (rowid, body) VALUES (1, ?)", (index_text(q),))
    if match_expression(q) is not None:
        assert matches(con, q) == {1}
