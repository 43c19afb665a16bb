"""The trained classifier: artifact, determinism, combination with the rules' gate."""

import json
import zipfile

import numpy as np
import pytest

from detectors import Detector
from detectors.classifier import MODEL_DIR, MODEL_NAME, Classifier, FeatureConfig, is_candidate
from detectors.train import CORPUS, load_rows, train

NPZ = MODEL_DIR / f"{MODEL_NAME}.npz"
META = MODEL_DIR / f"{MODEL_NAME}.json"


@pytest.fixture(scope="module")
def dev_rows():
    return load_rows(CORPUS / "dev.jsonl")


@pytest.fixture(scope="module")
def rules_only() -> Detector:
    return Detector(model_dir=None)


def test_artifact_loads_without_pickle_and_its_version_is_reported(detector):
    assert detector.model is not None
    meta = json.loads(META.read_text("utf-8"))
    assert meta["version"].startswith("clf-v1-")
    assert detector.model.version == meta["version"]
    assert detector.version == f"{detector.lexicon.version}+{meta['version']}"
    assert detector.detect("全额退保 加微信 tb_9981").detector_version == detector.version
    # numbers only: every array loads with pickling disabled, and nothing is an object
    with np.load(NPZ, allow_pickle=False) as data:
        assert {a.dtype.kind for a in (data[k] for k in data.files)} <= {"f", "i"}
    with zipfile.ZipFile(NPZ) as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    assert NPZ.stat().st_size < 2_000_000  # small enough to commit
    assert 0 < detector.model.threshold < 1


def test_rules_only_detector_has_no_model(rules_only):
    assert rules_only.model is None
    assert "+" not in rules_only.version


def test_training_is_deterministic(tmp_path):
    """Two runs on the same subset write byte-identical weights and the same version."""
    runs = []
    for name in ("a", "b"):
        model = train(
            tmp_path / name, limit=200, evaluate_test=False, log=lambda *_: None, c_grid=(1.0, 3.0)
        )
        runs.append(model)
    a, b = (np.load(tmp_path / n / f"{MODEL_NAME}.npz", allow_pickle=False) for n in "ab")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert runs[0].version == runs[1].version
    assert runs[0].threshold == runs[1].threshold


def test_classifier_raises_recall_on_obfuscated_dev_posts(detector, rules_only, dev_rows):
    ads = [r for r in dev_rows if r["label"] == 1 and r["obfuscation"]]
    assert len(ads) >= 30
    posts = [(r["text"], r.get("author_bio")) for r in ads]
    with_model = sum(v.flagged for v in detector.detect_many(posts))
    rules = sum(v.flagged for v in rules_only.detect_many(posts))
    assert with_model > rules
    assert with_model / len(ads) >= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "全额退保 不成功不收费 律师团队 新政策",  # sells, but no way in
        "我的微信 tuibao8866 欢迎交流摄影",  # a way in, nothing on topic
        "今天去公园散步，天气很好",
    ],
)
def test_certainty_from_the_model_cannot_open_the_gate(detector, text):
    analysis = detector.analyse(text)
    verdict = detector.verdict(analysis, probability=1.0)
    assert not verdict.flagged
    assert verdict.score < detector.model.threshold or verdict.score <= 0.45


def test_no_flag_without_the_gate_on_the_whole_dev_split(detector, dev_rows):
    """Whatever the probability, a flagged post is on topic and has a way in."""
    gate = detector.model.gate
    for r in dev_rows:
        analysis = detector.analyse(r["text"], r.get("author_bio"))
        on_topic, channel, _, _ = gate.check(analysis.signals)
        for p in (0.0, 0.99, 1.0):
            if detector.verdict(analysis, p).flagged:
                assert on_topic and channel, r["id"]


def test_a_frame_without_invitation_costs_the_model_score(detector):
    warning = "警惕代理退保骗局！所谓全额退保、不成功不收费都是套路，请通过官方渠道投诉"
    analysis = detector.analyse(warning, bio="V：tb_helper_2026")
    *_, framed = detector.model.gate.check(analysis.signals)
    assert framed
    combined = detector.model.combine(analysis, 0.9, 0.45)
    assert combined.score < 0.9
    assert "警示" in combined.reason


def test_verdict_explains_the_model(detector):
    verdict = detector.detect("全额退保，不成功不收费！加微信 tuibao8866")
    assert verdict.flagged
    assert any(r.startswith("模型概率") for r in verdict.reasons)
    assert verdict.categories == ["surrender"]


def test_detect_and_detect_many_agree(detector, dev_rows):
    posts = [(r["text"], r.get("author_bio")) for r in dev_rows[:60]]
    batch = detector.detect_many(posts)
    one = [detector.detect(t, b) for t, b in posts]
    assert [v.flagged for v in batch] == [v.flagged for v in one]
    assert [v.score for v in batch] == pytest.approx([v.score for v in one], abs=1e-6)


def test_only_candidates_reach_the_model(detector):
    chatter = detector.analyse("今天去公园散步，天气很好")
    ad = detector.analyse("全额退保 加微信 tb_9981")
    negative = detector.model.gate.negative
    assert not is_candidate(chatter, negative) and is_candidate(ad, negative)
    assert detector.model.score_batch([chatter, ad])[0] is None


def test_missing_artifact_means_rules_only(tmp_path, detector):
    assert Classifier.load(detector.lexicon, tmp_path) is None
    assert Detector(model_dir=tmp_path).model is None


def test_ngrams_never_span_two_texts_and_stay_in_range():
    config = FeatureConfig(1, 3, 2**10)
    alone = [config.matrix([t]).toarray()[0] for t in ("全额退保", "ab", "")]
    batch = config.matrix(["全额退保", "ab", ""]).toarray()
    np.testing.assert_allclose(batch, np.vstack(alone))
    _, cols, counts = config.counts(["abab"])
    assert counts.sum() == 4 + 3 + 2  # 1-, 2- and 3-grams of a 4-character text
    assert cols.max() < 2**10
    with pytest.raises(ValueError):
        FeatureConfig(1, 3, 1000).counts(["x"])
