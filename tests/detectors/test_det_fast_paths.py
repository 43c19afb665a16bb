"""The speed work's shortcuts give exactly what the plain code gives.

Each fast path (the fused batch fold + strip, the numpy contact pre-check, the speech
scan, the family encoder, the one-pass model judgement) replaced a simpler computation
that is still in the code; these tests pin them to each other on generated inputs, so
a lexicon edit that breaks an assumption fails here rather than changing verdicts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import Detector
from detectors.classifier import family_features
from detectors.framing import _scan
from detectors.normalize import _offsets, _strip_with_offsets

_SEP = "\ue000"
_RULES = Detector(model_dir=None)

# characters that exercise every class of the contact pre-check and of stripping:
# ASCII letters, digits and punctuation, spelled digits, phone separators, look-alike
# letters, full-width forms, CJK, emoji, spaces of several kinds
_ALPHABET = st.sampled_from(
    list("abcxyzAQV0123456789-_.:/ ~|*·•—–")
    + list("一二三四五六七八九零〇幺两洞①⑦❶⓪🄀")
    + list("асеорхіԁ")  # Cyrillic look-alikes
    + list("ＡＶ０１２\u3000\u200b\t\n")
    + list("微信加我退保征信的了。，！😂🔥")
)
_TEXTS = st.lists(st.text(_ALPHABET, max_size=40), min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(parts=_TEXTS, texts=st.integers(0, 10))
def test_fused_fold_and_strip_equal_fold_then_strip(parts, texts):
    n = _RULES._normalizer
    texts = min(texts, len(parts))
    view = n.fold_strip_many(parts, texts, _SEP)
    assert view is not None
    assert view.folded == [n.fold(p) for p in parts]
    assert view.folded_joined == _SEP.join(view.folded)
    want = [_strip_with_offsets(n.fold(p)) for p in parts[:texts]]
    assert view.norms == [norm for norm, _ in want]
    assert [view.starts[i] for i in range(texts)] == [starts for _, starts in want]
    assert view.compact == _SEP.join(view.norms)
    assert list(view.norm_bounds) == _offsets(map(len, view.norms))


def test_fused_fold_refuses_a_part_holding_the_separator():
    assert _RULES._normalizer.fold_strip_many(["a\ue000b", "c"], 2, _SEP) is None
    # the detector then folds it as a space, as the plain fold does
    verdicts = _RULES.detect_many([("加微信\ue000tuibao8866 全额退保", None), ("你好", None)])
    assert verdicts[0] == _RULES.detect("加微信\ue000tuibao8866 全额退保")


@settings(max_examples=400, deadline=None)
@given(parts=_TEXTS)
def test_numpy_contact_precheck_equals_the_regex(parts):
    n, contacts = _RULES._normalizer, _RULES._contacts
    view = n.fold_strip_many(parts, len(parts), _SEP)
    assert view is not None
    got = contacts.candidate_parts(view.codes, view.folded_joined, view.bounds)
    assert got == [i for i, f in enumerate(view.folded) if contacts.candidate(f)]


def test_numpy_contact_precheck_finds_each_kind():
    n, contacts = _RULES._normalizer, _RULES._contacts
    parts = [
        "今天天气好",
        "tuibao",
        "幺三八 零零一 二",
        "打110",
        "ab-c",
        "一二三四",
        "1 2  3   4    5",
    ]
    view = n.fold_strip_many(parts, len(parts), _SEP)
    assert contacts.candidate_parts(view.codes, view.folded_joined, view.bounds) == [1, 2, 3, 4]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.sampled_from(list("他她对方说讲UP主up视频广告里写着：:，。 ab")), max_size=60)
)
def test_speech_scan_equals_finditer(text):
    rules = _RULES._framing
    assert rules.speech is not None and rules.speech_first is not None
    want = [(m.span(), m.group("colon")) for m in rules.speech.finditer(text)]
    got = [(m.span(), m.group("colon")) for m in _scan(rules.speech_first, rules.speech, text)]
    assert got == want


def _labelled_analyses(detector: Detector):
    from detectors.train import CORPUS, load_rows

    rows = load_rows(CORPUS / "dev.jsonl")
    posts = [(r["text"], r.get("author_bio")) for r in rows]
    return [a for i in range(0, len(posts), 500) for a in detector.analyse_many(posts[i : i + 500])]


def test_family_encoder_equals_family_features(detector):
    model = detector.model
    analyses = _labelled_analyses(detector)
    got = model._encoder.matrix(analyses, model.gate)
    index = {name: i for i, name in enumerate(model.family_names)}
    want = np.zeros_like(got)
    for row, analysis in enumerate(analyses):
        for name, value in family_features(analysis, model.gate).items():
            if name in index:
                want[row, index[name]] = value
    assert np.array_equal(got, want)
    assert got.any()


def test_judge_batch_equals_score_batch_then_combine(detector):
    model = detector.model
    analyses = _labelled_analyses(detector)
    cap = detector._scorer.gate_cap
    judged = model.judge_batch(analyses, cap)
    for analysis, p, combined in zip(analyses, model.score_batch(analyses), judged, strict=True):
        assert (p is None) == (combined is None)
        if p is not None:
            assert combined == model.combine(analysis, p, cap)
    assert any(c is not None and c.flagged for c in judged)


def test_quiet_posts_share_one_verdict_equal_to_detect(detector):
    posts = [
        ("今天天气真好", None),
        ("周末去爬山", "记录生活"),
        ("加微信tuibao8866 全额退保", None),
    ]
    verdicts = detector.detect_many(posts)
    assert verdicts[0] is verdicts[1]
    for (text, bio), verdict in zip(posts, verdicts, strict=True):
        assert verdict == detector.detect(text, bio)
