"""Properties (issue "Quality"): separators, zero-width characters or emoji between the
characters of a lexicon phrase, switching width, or writing a contact's digits in another
numeral form does not change the verdict; every evidence span indexes the original text
and covers the matched characters (never starts or ends on a separator)."""

import unicodedata

import pytest
from det_helpers import assert_spans_index_original
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import Detector

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# (phrase with obfuscatable key words, contact) pairs: ads, and posts that must stay clean
POSTS = [
    ("全额退保不成功不收费", "微信 tuibao8866"),
    ("停息挂账个性化分期，专业团队", "电话13800138000"),
    ("征信修复，逾期记录能删", "QQ 2204112910"),
    ("代理投诉，不成功不收费", "VX：tsdl_2026"),
    ("警惕代理退保骗局，请拨打12378", ""),
    ("今天去公园散步，天气很好", ""),
]
SEPARATORS = [
    " ",
    "\u3000",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "😀",
    "🔥",
    "💰",
    "👉",
    "❗",
    "✨",
    "，",
    "、",
    "·",
    "*",
    "~",
    "|",
    "/",
    "-",
    ".",
    "丨",
    "丶",
    "ー",
]
DIGIT_FORMS = {
    "0": ["0", "０", "零", "〇", "洞", "O", "o", "⓪", "⓿"],
    "1": ["1", "１", "一", "幺", "壹", "①", "⑴", "⒈", "❶"],
    "2": ["2", "２", "二", "贰", "②", "⑵", "⒉", "❷"],
    "3": ["3", "３", "三", "叁", "③", "⑶", "⒊", "❸"],
    "4": ["4", "４", "四", "肆", "④", "⑷", "⒋", "❹"],
    "5": ["5", "５", "五", "伍", "⑤", "⑸", "⒌", "❺"],
    "6": ["6", "６", "六", "陆", "⑥", "⑹", "⒍", "❻"],
    "7": ["7", "７", "七", "柒", "⑦", "⑺", "⒎", "❼"],
    "8": ["8", "８", "八", "捌", "⑧", "⑻", "⒏", "❽"],
    "9": ["9", "９", "九", "玖", "⑨", "⑼", "⒐", "❾"],
}


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector(model_dir=None)


def sprinkle(phrase: str, draws: list[str | None]) -> str:
    """Separators between two Chinese characters (numbers stay numbers)."""
    out = []
    for i, ch in enumerate(phrase):
        out.append(ch)
        sep = draws[i % len(draws)]
        if sep is not None and i < len(phrase) - 1 and _cjk(ch) and _cjk(phrase[i + 1]):
            out.append(sep)
    return "".join(out)


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def widen(text: str, flags: list[bool]) -> str:
    """Switch ASCII characters to their full-width forms where a flag says so."""
    out = []
    for i, ch in enumerate(text):
        wide = flags[i % len(flags)] and "!" <= ch <= "~"
        out.append(chr(ord(ch) + 0xFEE0) if wide else ch)
    return "".join(out)


def same_verdict(a, b) -> None:
    assert a.flagged == b.flagged
    assert a.categories == b.categories
    assert [c.canonical for c in a.contacts] == [c.canonical for c in b.contacts]
    assert sorted(e.feature for e in a.evidence) == sorted(e.feature for e in b.evidence)


@SETTINGS
@given(
    post=st.sampled_from(POSTS),
    draws=st.lists(st.one_of(st.none(), st.sampled_from(SEPARATORS)), min_size=1, max_size=9),
)
def test_separators_inside_key_phrases_do_not_change_the_verdict(rules, post, draws):
    phrase, contact = post
    plain = rules.detect(phrase + "，" + contact)
    text = sprinkle(phrase, draws) + "，" + contact
    noisy = rules.detect(text)
    same_verdict(plain, noisy)
    assert abs(plain.score - noisy.score) < 1e-9
    assert_spans_index_original(text, noisy)


@SETTINGS
@given(post=st.sampled_from(POSTS), flags=st.lists(st.booleans(), min_size=1, max_size=7))
def test_switching_width_does_not_change_the_verdict(rules, post, flags):
    phrase, contact = post
    text = phrase + "，" + contact
    wide = widen(text, flags)
    same_verdict(rules.detect(text), rules.detect(wide))
    assert_spans_index_original(wide, rules.detect(wide))


@SETTINGS
@given(
    number=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    picks=st.lists(st.integers(min_value=0, max_value=8), min_size=11, max_size=11),
    prefix=st.sampled_from(
        ["全额退保，不成功不收费，电话", "停息挂账找我们 手机", "今天天气不错 "]
    ),
)
def test_contact_digits_in_any_numeral_form_give_the_same_verdict(rules, number, picks, prefix):
    spelled = "".join(
        DIGIT_FORMS[d][p % len(DIGIT_FORMS[d])] for d, p in zip(number, picks, strict=True)
    )
    plain = rules.detect(prefix + number)
    noisy = rules.detect(prefix + spelled)
    same_verdict(plain, noisy)
    assert [c.canonical for c in noisy.contacts] == [f"phone:{number}"]


@SETTINGS
@given(
    post=st.sampled_from(POSTS),
    draws=st.lists(st.one_of(st.none(), st.sampled_from(SEPARATORS)), min_size=1, max_size=9),
    model=st.booleans(),
)
def test_full_detector_verdict_is_stable_under_separators(detector, rules, post, draws, model):
    """With the classifier too: it reads the normalised text, which is the same."""
    d = detector if model else rules
    phrase, contact = post
    plain = d.detect(phrase + "，" + contact)
    noisy = d.detect(sprinkle(phrase, draws) + "，" + contact)
    assert plain.flagged == noisy.flagged
    assert abs(plain.score - noisy.score) < 1e-6


def _junk(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in "LN"


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(
            list("全额退保停息挂账征信修复代理投诉私信我加微不成功收费vxtb0123456789_:，。！")
            + SEPARATORS
            + ["彳", "正", "亻", "呆", "🈶", "🉑", "幺", "⑴", "Ｖ", "Ｘ", "а", "о"]
        ),
        max_size=80,
    ),
    bio=st.one_of(st.none(), st.text(max_size=30)),
)
def test_evidence_spans_index_the_original_and_cover_only_matched_characters(text, bio):
    d = _RULES
    verdict = d.detect(text, bio)
    assert_spans_index_original(text, verdict)
    for ev in verdict.evidence:
        assert not _junk(ev.text[0]), ev  # a span never starts or ends on a separator
        assert not _junk(ev.text[-1]), ev


@settings(max_examples=150, deadline=None)
@given(
    posts=st.lists(
        st.tuples(
            st.text(
                alphabet=st.sampled_from(list("全额退保征信停息私信我微信vx13800138000天气_ \n")),
                max_size=40,
            ),
            st.one_of(st.none(), st.sampled_from(["V: tb_8866", "记录生活", "1984102"])),
        ),
        max_size=20,
    )
)
def test_batch_analysis_equals_one_post_at_a_time(posts):
    d = _RULES
    batch = d.analyse_many(posts)
    for (text, bio), got in zip(posts, batch, strict=True):
        want = d.analyse(text, bio)
        assert got.normalized == want.normalized
        assert got.signals == want.signals
        assert got.rule.score == want.rule.score and got.rule.flagged == want.rule.flagged


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(max_size=40), max_size=12))
def test_vectorised_batch_strip_equals_the_per_post_strip(texts):
    from detectors.normalize import _strip_with_offsets

    n = _RULES._normalizer
    folded = [n.fold(t) for t in texts]
    norms, starts = n.strip_many(folded, "\ue000")
    assert [(norm, starts[i]) for i, norm in enumerate(norms)] == [
        _strip_with_offsets(f) for f in folded
    ]


_RULES = Detector(model_dir=None)
