"""Contacts: one canonical key however written; spelled digits folded only where they
make a contact; official numbers are channels, not private contacts."""

import pytest


def contacts(detector, text: str):
    return detector.detect(text).contacts


@pytest.mark.parametrize(
    "text",
    [
        "微信 tuibao8866",
        "加VX：TuiBao8866",
        "威信 tui_bao_8866",
        "wx: tui-bao-8866",
        "薇信：ｔｕｉｂａｏ８８６６",
        "➕V tui bao 8866",
        "V: Tui.Bao.8866",
    ],
)
def test_one_wechat_id_written_many_ways_has_one_key(detector, text):
    found = contacts(detector, text)
    assert [c.canonical for c in found] == ["wechat:tuibao8866"]
    c = found[0]
    assert text[c.start : c.end] == c.value
    assert c.kind == "wechat"


@pytest.mark.parametrize(
    "text",
    [
        "电话15212345678",
        "电话 152 1234 5678",
        "电话 152-1234-5678",
        "幺五二一二三四五六七八",
        "一五二 一二三四 五六七八",
        "壹伍贰壹贰叁肆伍陆柒捌",
        "①⑤②①②③④⑤⑥⑦⑧",
        "+86 152 1234 5678",
    ],
)
def test_split_and_spelled_mobile_numbers_have_one_key(detector, text):
    keys = {c.canonical for c in contacts(detector, text)}
    assert "phone:15212345678" in keys


def test_letter_o_reads_as_zero_inside_a_mobile(detector):
    keys = [c.canonical for c in contacts(detector, "电话 15O-1234-5678")]
    assert keys == ["phone:15012345678"]


def test_spelled_digits_are_not_folded_outside_contacts(detector):
    verdict = detector.detect("一次性付清，三三两两，一五一十地说")
    assert verdict.contacts == []


def test_longer_numbers_are_not_mobiles(detector):
    # an ID number and a bank card contain 11-digit runs that must not be read as phones
    assert contacts(detector, "身份证110101199003071234") == []
    assert contacts(detector, "卡号6222021234567890123") == []


@pytest.mark.parametrize("number", ["12378", "12363", "95519", "96110", "12348", "110", "95588"])
def test_official_numbers_are_channels_not_private_contacts(detector, number):
    # (a post with nothing sold has an empty analysis: the selling word keeps it analysed)
    verdict = detector.detect(f"想全额退保？有问题请拨打{number}咨询")
    assert verdict.contacts == []
    official = [e for e in verdict.evidence if e.feature == "official_channel"]
    assert [e.text for e in official] == [number]


def test_qq_after_a_cue_with_spelled_digits(detector):
    keys = [c.canonical for c in contacts(detector, "扣扣 33一八八〇六九二七")]
    assert keys == ["qq:3318806927"]


def test_qq_number_without_cue_is_not_a_contact(detector):
    assert contacts(detector, "订单号 3318806927 已发货") == []


def test_short_link_is_a_contact_and_official_domain_is_not(detector):
    found = contacts(detector, "详情 t.cn/A6xYz12 或官网 https://www.nfra.gov.cn/cn/view")
    assert [c.canonical for c in found] == ["link:t.cn/a6xyz12"]


def test_ascii_cue_inside_a_word_is_not_a_cue(detector):
    assert contacts(detector, "Nov: release12345 notes") == []


def test_bio_bare_id_counts_only_in_bio(detector):
    assert contacts(detector, "📮 vivilicai88") == []
    bio = detector.bio_contacts("理财挽损 📮 vivilicai88")
    assert [(c.canonical, c.in_bio) for c in bio] == [("wechat:vivilicai88", True)]


def test_bare_underscore_id_counts_in_a_post_too(detector):
    # "加laozhou_bx1010": no usable cue, but ordinary words never carry an underscore
    found = contacts(detector, "想让我帮你操作的，加laozhou_bx1O1O")
    assert [c.canonical for c in found] == ["wechat:laozhoubx1010"] or [
        c.canonical for c in found
    ] == ["wechat:laozhoubx1o1o"]
    assert contacts(detector, "邮件 vivi_li@example.com 或 @vivi_li88 或 t.cn/ab_cd12") == [
        c
        for c in contacts(detector, "邮件 vivi_li@example.com 或 @vivi_li88 或 t.cn/ab_cd12")
        if c.kind == "link"
    ]


def test_bio_contacts_come_back_marked_in_bio(detector):
    verdict = detector.detect("全额退保", bio="V：tuibao_8866")
    bio = [c for c in verdict.contacts if c.in_bio]
    assert [c.canonical for c in bio] == ["wechat:tuibao8866"]
    assert "V：tuibao_8866"[bio[0].start : bio[0].end] == bio[0].value
