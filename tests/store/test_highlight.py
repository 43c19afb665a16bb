"""The highlight builder: fragments over the original text, query marks over evidence."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.models import Evidence
from pipeline.store.highlight import highlight


def ev(start: int, end: int, feature: str = "phrase") -> Evidence:
    return Evidence(start=start, end=end, text="", feature=feature)


def test_plain_text_is_one_plain_fragment() -> None:
    assert highlight("今天天气不错", [], []) == [("今天天气不错", "")]
    assert highlight("", ["退保"], [ev(0, 1)]) == []


def test_query_terms_are_marked_everywhere() -> None:
    assert highlight("退保，再退保", ["退保"], []) == [("退保", "q"), ("，再", ""), ("退保", "q")]


def test_query_matches_ignore_case_and_width_but_mark_the_original() -> None:
    assert highlight("加ＶＸ：Abc", ["vx", "ABC"], []) == [
        ("加", ""),
        ("ＶＸ", "q"),
        ("：", ""),
        ("Abc", "q"),
    ]


def test_evidence_spans_carry_their_feature() -> None:
    text = "全额退保，不成功不收费"
    assert highlight(text, [], [ev(0, 4, "surrender"), ev(5, 11, "guarantee")]) == [
        ("全额退保", "surrender"),
        ("，", ""),
        ("不成功不收费", "guarantee"),
    ]


def test_query_mark_wins_where_it_overlaps_evidence() -> None:
    assert highlight("全额退保", ["退保"], [ev(0, 4, "surrender")]) == [
        ("全额", "surrender"),
        ("退保", "q"),
    ]


def test_overlapping_evidence_keeps_the_earliest_longest_span() -> None:
    assert highlight("停息挂账", [], [ev(2, 4, "b"), ev(0, 3, "a")]) == [
        ("停息挂", "a"),
        ("账", "b"),
    ]


def test_out_of_range_evidence_is_clipped() -> None:
    assert highlight("退保", [], [ev(-3, 1, "x"), ev(1, 99, "y"), ev(5, 9, "z")]) == [
        ("退", "x"),
        ("保", "y"),
    ]


def test_blank_terms_and_features_are_harmless() -> None:
    assert highlight("退保", ["", "  "], [ev(0, 2, "")]) == [("退保", "evidence")]


def test_a_character_folding_to_several_is_marked_whole() -> None:
    # ㎏ folds to "kg": matching "kg" marks the one original character.
    assert highlight("5㎏装", ["kg"], []) == [("5", ""), ("㎏", "q"), ("装", "")]


spans = st.builds(
    ev,
    st.integers(-5, 60),
    st.integers(-5, 60),
    st.sampled_from(["surrender", "contact", "", "q"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("全额退保口子ＶＸvxAa ，！㎏ﬁ\u0301")), max_size=50),
    st.lists(st.text(alphabet="退保vxXＶfi口", max_size=4), max_size=3),
    st.lists(spans, max_size=4),
)
def test_fragments_always_rebuild_the_text(text: str, terms: list[str], evidence) -> None:
    fragments = highlight(text, terms, evidence)
    assert "".join(fragment for fragment, _ in fragments) == text
    assert all(fragment for fragment, _ in fragments)
    marks = [mark for _, mark in fragments]
    assert all(a != b for a, b in itertools.pairwise(marks))
