"""The committed model still earns the figures its JSON reports (a stale artifact fails).

Runs ``radar eval``'s own code on the corpus test split (~300 posts, a few seconds). If
the lexicon, the normaliser or the corpus changed since ``make train``, retrain."""

import io
import json

from detectors.classifier import MODEL_DIR, MODEL_NAME, feature_names
from detectors.train import CORPUS, data_hash
from pipeline.scan import evaluate

TOLERANCE = 0.01  # one post of ~140 either way


def reported() -> dict:
    return json.loads((MODEL_DIR / f"{MODEL_NAME}.json").read_text("utf-8"))


def test_model_was_trained_on_the_current_train_and_dev_splits():
    files = [CORPUS / "train.jsonl", CORPUS / "dev.jsonl"]
    assert reported()["trained_on"]["data_hash"] == data_hash(files), "run `make train`"


def test_committed_model_meets_its_reported_test_metrics(detector):
    meta = reported()
    assert detector.model is not None and detector.model.version == meta["version"]
    expected = meta["metrics"]["test"]
    out, err = io.StringIO(), io.StringIO()
    lines = (CORPUS / "test.jsonl").read_bytes().splitlines(keepends=True)
    assert evaluate(lines, out, err, detector, as_json=True) == 0, err.getvalue()
    got = json.loads(out.getvalue())
    assert got["posts"] == expected["posts"]
    for key in ("precision", "recall", "f1"):
        assert got["overall"][key] >= expected[key] - TOLERANCE, (key, got["overall"])
    hard = got["hard_negatives"]["fp_rate"]
    assert hard <= expected["hard_negative_fp_rate"] + TOLERANCE, got["hard_negatives"]


def test_model_features_match_the_current_lexicon(detector):
    """A renamed or added feature family would silently drop out of the model."""
    assert reported()["family_names"] == feature_names(detector.lexicon), "run `make train`"
