"""Every obfuscation family of the issue normalises to the canonical phrase, and the
contact-only folds (homoglyphs, spelled digits) stay out of the text view."""

import pytest

from detectors import Detector
from detectors.lexicon import load_lexicon
from detectors.normalize import pinyin_aliases


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector(model_dir=None)


def norm(detector: Detector, text: str) -> str:
    return detector._normalizer.normalize(text).norm


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("彳正信修复", "征信修复"),  # radical split
        ("彳正亻言修复", "征信修复"),
        ("亻亭息挂账", "停息挂账"),
        ("🈶办法，🈚前期", "有办法无前期"),  # emoji words
        ("🉑全额退保", "可全额退保"),
        ("tui bao", "退保"),  # full pinyin, spaced
        ("TUIBAO，快", "退保快"),  # full pinyin, joined, upper case
        ("zheng xin xiu fu", "征信修复"),
        ("退抱", "退保"),  # homophones derived with pypinyin
        ("征芯修复", "征信修复"),
        ("停吸挂帐", "停息挂账"),
        ("協傷", "协商"),  # traditional + homophone
        ("徵信修復", "征信修复"),  # traditional
        ("債務優化", "债务优化"),
        ("全額退保", "全额退保"),
        ("ＶＸ", "微信"),  # full width
        ("➕V", "加v"),  # ➕ reads as 加: the contact cue "加v"
        ("扣扣", "qq"),
        ("企鹅", "qq"),
    ],
)
def test_obfuscation_normalises_to_the_canonical_phrase(rules, text, canonical):
    assert canonical in norm(rules, text)


@pytest.mark.parametrize(
    ("text", "canonical", "absent"),
    [
        ("tx gz 信用卡逾期了", "停息挂账", None),
        ("tx gz 今天发货", None, "停息挂账"),  # initials need a cue nearby
        ("需要tb的看简介 保单全额到账", "退保", None),
        ("sfz yhk 发我", "身份证银行卡", None),
        ("sfz 好看", None, "身份证"),
    ],
)
def test_pinyin_initials_only_near_other_cues(rules, text, canonical, absent):
    out = norm(rules, text)
    if canonical:
        assert canonical in out
    if absent:
        assert absent not in out


@pytest.mark.parametrize("word", ["私心", "律诗", "与期待", "为全家", "优化", "规律是"])
def test_ordinary_words_are_not_rewritten_as_homophones(rules, word):
    assert norm(rules, word) == word


def test_homophone_table_is_derived_once_and_excludes_real_words():
    aliases = pinyin_aliases(load_lexicon().pinyin)
    assert aliases["退抱"] == "退保"
    assert aliases["tui bao"] == "退保"
    assert aliases["tuibao"] == "退保"
    assert "私心" not in aliases
    assert all(len(key) > 1 for key in aliases)


def test_cyrillic_is_folded_for_contacts_only(rules):
    text = "хорошо 微信 хiаоlin_tb0731"
    assert "хорошо" in norm(rules, text)  # the text view keeps Russian words
    contacts = rules.detect(text).contacts
    assert [c.canonical for c in contacts] == ["wechat:xiaolintb0731"]
    assert contacts[0].value == "хiаоlin_tb0731"  # the span shows what was written


def test_numerals_are_not_folded_outside_contacts(rules):
    nt = rules._normalizer.normalize("一次性付清，三五个朋友")
    assert nt.norm == "一次性付清三五个朋友"


def test_batch_fold_equals_the_per_post_fold(rules):
    texts = ["全額退保😀", "", "ＶＸ：ｔｂ１２３", "\ud800 lone surrogate", "⑴⒈①❶", "a" * 3] * 3
    assert rules._normalizer.fold_many(texts) == [rules._normalizer.fold(t) for t in texts]
