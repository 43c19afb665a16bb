"""The same contact written five ways is one canonical key; numeral forms are folded only
inside contact runs; a phone split between the post and the bio is one contact."""

import pytest

from detectors import Detector


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector(model_dir=None)


def keys(detector: Detector, text: str) -> list[str]:
    return [c.canonical for c in detector.detect(text).contacts]


@pytest.mark.parametrize(
    "text",
    [
        "微信：TuiBao8866",
        "VX: tui_bao_8866",
        "v信 tui-bao-8866",
        "威信ｔｕｉｂａｏ８８６６",
        "wx tuіbао8866",  # Cyrillic і а о
        "➕V：Tui.Bao.8866",
    ],
)
def test_one_wechat_id_written_many_ways_is_one_key(rules, text):
    assert keys(rules, text) == ["wechat:tuibao8866"]


@pytest.mark.parametrize(
    "text",
    [
        "电话13800138000",
        "电话 138 0013 8000",
        "电话138-0013-8000",
        "电话一三八零零一三八零零零",
        "电话幺三八洞洞幺三八洞洞洞",
        "电话壹叁捌零零壹叁捌零零零",
        "电话①③⑧⓪⓪①③⑧⓪⓪⓪",
        "电话⑴⑶⑻0 0⑴⑶⑻000",
        "电话⒈⒊⒏00⒈⒊⒏000",
        "电话❶❸❽⓿⓿❶❸❽⓿⓿⓿",
        "电话138OO138OOO",
        "电话１３８００１３８０００",
    ],
)
def test_one_phone_in_every_numeral_form_is_one_key(rules, text):
    assert keys(rules, text) == ["phone:13800138000"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("企鹅二三一零六八八九八", "qq:231068898"),
        ("扣三三二幺洞八五四六", "qq:332108546"),
        ("Q我 33O6245O17", "qq:3306245017"),
        ("群号：345-572-730", "qq:345572730"),
    ],
)
def test_qq_numbers_in_spelled_forms(rules, text, key):
    assert keys(rules, text) == [key]


def test_underscore_id_without_cue_is_a_contact_but_emails_and_mentions_are_not(rules):
    assert keys(rules, "想办的加laozhou_bx1010") == ["wechat:laozhoubx1010"]
    assert keys(rules, "邮件 vivi_li@example.com 或 @vivi_li88 话题 #vivi_li88") == []


def test_phone_split_between_post_and_bio_is_one_contact(rules):
    analysis = rules.analyse("老刘干退保十年了，电话前七位在简介，后四位是2898", "老刘电话 1984102")
    phones = [c for c in analysis.signals.bio_contacts if c.kind == "phone"]
    assert [c.canonical for c in phones] == ["phone:19841022898"]
    assert phones[0].in_bio and phones[0].value == "1984102"


def test_contact_precheck_skips_text_without_digits_or_letters(rules):
    assert not rules._contacts.candidate(rules._normalizer.fold("今天天气真好，去公园散步"))
    assert rules._contacts.candidate(rules._normalizer.fold("幺五八零二三七幺三幺幺"))
    assert rules._contacts.candidate(rules._normalizer.fold("报警请打110"))
