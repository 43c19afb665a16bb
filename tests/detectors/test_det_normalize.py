"""Normalisation undoes cheap obfuscation while every span still indexes the original."""

import pytest
from det_helpers import assert_spans_index_original

from detectors.normalize import _strip_with_offsets, strip


def norm(detector, text: str) -> str:
    return detector._normalizer.normalize(text).norm


@pytest.mark.parametrize(
    "text",
    [
        "全额退保",
        "全 额 退 保",
        "全\u200b额\u200c退\u200d保",
        "全💰额🔥退✅保",
        "全，额。退！保",
        "全額退保",  # traditional
        "全额退抱",  # homophone alias
    ],
)
def test_obfuscated_phrase_normalises_to_the_canonical_phrase(detector, text):
    assert "全额退保" in norm(detector, text)


def test_full_width_letters_and_digits_fold_to_ascii_lower_case(detector):
    assert norm(detector, "ＶＸ：ＴｕｉＢａｏ８８６６") == "微信tuibao8866"


def test_space_between_ascii_words_is_kept_so_words_do_not_merge(detector):
    assert norm(detector, "call me, ok") == "call me ok"


def test_one_time_payment_is_not_turned_into_digits(detector):
    nt = detector._normalizer.normalize("一次性付清")
    assert nt.norm == "一次性付清"
    assert nt.folded == "一次性付清"


def test_folded_view_keeps_original_indices(detector):
    text = "全額\u200b退保 ＶＸ：ｔｕｉｂａｏ😀"
    nt = detector._normalizer.normalize(text)
    assert len(nt.folded) == len(text)


def test_evidence_spans_cover_the_original_characters(detector):
    text = "【全 額 退 抱】不成功，不收費！加 威 信：tui_bao 8866"
    verdict = detector.detect(text)
    assert verdict.evidence
    assert_spans_index_original(text, verdict)
    spans = {ev.text for ev in verdict.evidence}
    assert "全 額 退 抱" in spans  # the alias-rewritten span covers what was written
    assert "不成功，不收費" in spans


def test_alias_span_covers_the_whole_alias(detector):
    nt = detector._normalizer.normalize("加vx联系")
    i = nt.norm.index("微信")
    assert nt.span(i, i + 2) == (1, 3)
    assert nt.span(i + 1, i + 2) == (1, 3)


def test_contextual_alias_needs_its_context(detector):
    assert "退保" in norm(detector, "tb找我 保单全额到账")
    assert "退保" not in norm(detector, "tb 店铺上新了")


@pytest.mark.parametrize(
    "folded",
    ["", "abc", "a, b", "全额,退保", "微信: tui bao_8866!", "  x  ", "1-2-3 一二", ",,a,,"],
)
def test_fast_strip_matches_the_offset_strip(folded):
    assert strip(folded) == _strip_with_offsets(folded)[0]
