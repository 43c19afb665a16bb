"""Properties: obfuscating separators do not change a verdict, and every span indexes the
original text whatever the input."""

from det_helpers import assert_spans_index_original
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import Detector
from detectors.normalize import _strip_with_offsets, strip

NORMALIZER = Detector()._normalizer

PHRASES = [
    "全额退保不成功不收费私信我",
    "停息挂账个性化分期加我",
    "征信修复包下款私信",
    "代理投诉不成功不收费私我",
    "警惕代理退保骗局",
    "今天去公园散步",
]
SEPARATORS = st.sampled_from(
    [
        " ",
        "  ",
        "\u200b",
        "\u200c",
        "\u200d",
        "\ufeff",
        "😀",
        "🔥",
        "❗",
        "，",
        "、",
        "·",
        "*",
        "~",
        "|",
        "\u3000",
    ]
)


def sprinkle(phrase: str, draws: list[str | None]) -> str:
    out = []
    for i, ch in enumerate(phrase):
        out.append(ch)
        sep = draws[i % len(draws)] if draws else None
        if sep and i < len(phrase) - 1:
            out.append(sep)
    return "".join(out)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    phrase=st.sampled_from(PHRASES),
    draws=st.lists(st.one_of(st.none(), SEPARATORS), min_size=1, max_size=12),
)
def test_separators_between_characters_do_not_change_the_verdict(detector, phrase, draws):
    plain = detector.detect(phrase)
    text = sprinkle(phrase, draws)
    noisy = detector.detect(text)
    assert noisy.flagged == plain.flagged
    assert noisy.categories == plain.categories
    assert abs(noisy.score - plain.score) < 1e-9
    assert [e.feature for e in noisy.evidence] == [e.feature for e in plain.evidence]
    assert_spans_index_original(text, noisy)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), bio=st.one_of(st.none(), st.text(max_size=60)))
def test_spans_always_index_the_original(detector, text, bio):
    verdict = detector.detect(text, bio)
    assert 0.0 <= verdict.score <= 1.0
    assert_spans_index_original(text, verdict)
    for c in verdict.contacts:
        if c.in_bio:
            assert bio is not None and bio[c.start : c.end] == c.value


ALPHABET = st.sampled_from(list("全额退保微信vx tb88-_:，。 \u200b😀ＡＢａ１２一二幺"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=ALPHABET, max_size=60))
def test_spans_index_the_original_on_dense_lexicon_text(detector, text):
    assert_spans_index_original(text, detector.detect(text))


@given(text=st.text(max_size=120))
def test_fast_strip_agrees_with_the_offset_strip(text):
    folded = NORMALIZER.fold(text)
    compact, starts = _strip_with_offsets(folded)
    assert strip(folded) == compact
    assert len(starts) == len(compact)
    assert all(folded[i] == ch for i, ch in zip(starts, compact, strict=True) if ch != " ")
