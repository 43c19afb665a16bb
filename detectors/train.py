"""Train the classifier (``make train``): train split → weights, dev split → choices.

Why this recipe:
- Logistic regression on hashed char 1–3-grams + the rules' family features: linear, so
  the artifact is one weight vector and inference is a sparse dot product.
- Only *candidates* are trained on (posts with something to sell or a contact), because
  only candidates ever reach the model; everything else is decided by the gate.
- Calibration is Platt scaling fitted on out-of-fold scores of the train split (folds
  grouped by account / ring, as the split itself is), so dev stays untouched for choices.
- The regularisation strength is chosen by grouped cross-validation on train (log loss:
  stable where dev F1 moves by one post); dev chooses the threshold and the frame
  penalty: the best F0.5 of the *combined* verdict (precision weighs double: a flagged
  warning or complaint is the costlier error); ties go to the larger penalty and to
  the middle of the best run of thresholds.
- The test split is only scored, after every choice is made, and the figures are
  written into the model JSON so a test can catch a stale artifact.
- Deterministic: inputs sorted by id, liblinear with a fixed seed, no shuffling.

Run: ``python -m detectors.train [--out DIR] [--limit N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold

from detectors.classifier import (
    MODEL_DIR,
    MODEL_NAME,
    Classifier,
    FeatureConfig,
    Gate,
    family_matrix,
    feature_names,
    is_candidate,
)
from detectors.detector import Analysis, Detector
from detectors.evaluate import EvalRow, Report, build_report

CORPUS = Path(__file__).parent / "corpus"
HOLDOUT = Path(__file__).parent.parent / "tests" / "data" / "holdout.jsonl"
SEED = 20260601
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
THRESHOLD_STEP = 0.01
THRESHOLDS = tuple(round(0.30 + THRESHOLD_STEP * i, 2) for i in range(66))  # 0.30 … 0.95
FRAME_PENALTIES = (1.0, 2.0, 3.0)
BETA = 0.5  # F-beta for the threshold: precision counts double
FOLDS = 5
MODEL_VERSION_PREFIX = "clf-v1"


def load_rows(path: Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    rows.sort(key=lambda r: r["id"])
    if not limit or limit >= len(rows):
        return rows
    return rows[:: len(rows) // limit][:limit]  # spread over the file: both labels


def data_hash(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def group_key(record: dict) -> str:
    """The split's grouping (detectors/corpus/split.py): one account or ring per group."""
    if record.get("ring"):
        return f"ring:{record['ring']}"
    return f"author:{record['platform']}:{record.get('author_id') or record['id']}"


class Split:
    """One corpus split, analysed once by the rules."""

    def __init__(self, rows: list[dict], detector: Detector) -> None:
        self.rows = rows
        posts = [(r["text"], r.get("author_bio")) for r in rows]
        # the same batch path as detect_many, so training sees what inference sees
        self.analyses: list[Analysis] = [
            a for i in range(0, len(posts), 500) for a in detector.analyse_many(posts[i : i + 500])
        ]
        self.labels = np.array([int(r["label"]) for r in rows], dtype=np.int8)
        negative = Gate.from_lexicon(detector.lexicon).negative
        self.candidates = [i for i, a in enumerate(self.analyses) if is_candidate(a, negative)]


def design(
    analyses: Sequence[Analysis], config: FeatureConfig, gate: Gate, names: Sequence[str]
) -> sparse.csr_matrix:
    x = config.matrix([a.normalized for a in analyses])
    f = sparse.csr_matrix(family_matrix(analyses, gate, names))
    return sparse.hstack([x, f], format="csr", dtype=np.float64)


def x_width(config: FeatureConfig, names: Sequence[str]) -> int:
    return config.n_features + len(names)


def fit_linear(x: sparse.csr_matrix, y: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, solver="liblinear", random_state=SEED, max_iter=2000)
    return model.fit(x, y)


def platt(
    x: sparse.csr_matrix, y: np.ndarray, groups: Sequence[str], c: float
) -> tuple[float, float, float]:
    """Platt scaling (a, b) from out-of-fold decision values on the training split, and
    the calibrated out-of-fold log loss (how well this C generalises across accounts)."""
    oof = np.zeros(len(y), dtype=np.float64)
    folds = GroupKFold(n_splits=min(FOLDS, len(set(groups))))
    for fit_idx, held in folds.split(x, y, groups):
        if len(set(y[fit_idx].tolist())) < 2:
            continue
        oof[held] = fit_linear(x[fit_idx], y[fit_idx], c).decision_function(x[held])
    calib = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    calib.fit(oof.reshape(-1, 1), y)
    loss = log_loss(y, calib.predict_proba(oof.reshape(-1, 1))[:, 1], labels=[0, 1])
    return float(calib.coef_[0, 0]), float(calib.intercept_[0]), float(loss)


def build(
    detector: Detector, train: Split, c: float, config: FeatureConfig, threshold: float
) -> Classifier:
    gate = Gate.from_lexicon(detector.lexicon)
    names = feature_names(detector.lexicon)
    idx = train.candidates
    analyses = [train.analyses[i] for i in idx]
    y = train.labels[idx]
    x = design(analyses, config, gate, names)
    # fit on the columns that occur (a few thousand of 2**18): same solution, as an
    # unseen column has zero gradient, but liblinear no longer walks 262k weights
    used = np.unique(x.indices)
    x = x[:, used]
    model = fit_linear(x, y, c)
    a, b, loss = platt(x, y, [group_key(train.rows[i]) for i in idx], c)
    coef = np.zeros(x_width(config, names), dtype=np.float64)
    coef[used] = model.coef_[0]
    return Classifier(
        config,
        coef[: config.n_features].astype(np.float32),
        names,
        coef[config.n_features :].astype(np.float32),
        bias=float(model.intercept_[0]),
        platt=(a, b),
        threshold=threshold,
        gate=gate,
        version=MODEL_VERSION_PREFIX,
        meta={"cv_log_loss": round(loss, 5)},
    )


def report(
    detector: Detector,
    split: Split,
    model: Classifier | None,
    probabilities: Sequence[float | None] | None = None,
) -> Report:
    """The combined (or rules-only) verdicts on a split, as ``radar eval`` computes them.
    Pass ``probabilities`` (from ``model.score_batch``) to reuse them across thresholds."""
    saved = detector.model
    detector.model = model
    try:
        if probabilities is None:
            probabilities = model.score_batch(split.analyses) if model else None
        probs = probabilities if probabilities is not None else [None] * len(split.rows)
        verdicts = [detector.verdict(a, p) for a, p in zip(split.analyses, probs, strict=True)]
    finally:
        detector.model = saved
    return build_report(
        [
            EvalRow(
                id=r["id"],
                label=int(r["label"]),
                category=r.get("category"),
                flagged=v.flagged,
                score=v.score,
                predicted=tuple(v.categories),
                text=r["text"],
                kind=r.get("kind"),
                obfuscation=tuple(r.get("obfuscation") or ()),
                vocabulary=bool(v.evidence),
            )
            for r, v in zip(split.rows, verdicts, strict=True)
        ]
    )


def best_combination(detector: Detector, dev: Split, model: Classifier) -> tuple[float, ...]:
    """(dev F-beta, frame penalty, threshold): the best combined F0.5 on dev. Ties go to
    the larger penalty (the more conservative), and the threshold is the middle of the
    best run of thresholds (the widest margin both ways when dev is nearly saturated).
    Flagging is ``gate and score >= threshold``, so one combined score per post and
    penalty serves every threshold."""
    probabilities = model.score_batch(dev.analyses)
    labels = dev.labels.astype(bool)
    saved, cap = model.threshold, float(detector.lexicon.scoring["gate_cap"])
    model.threshold = 2.0  # never flag: only the combined scores are wanted here
    b2 = BETA * BETA
    table: list[tuple[float, float, float]] = []  # (F-beta, penalty, threshold)
    for penalty in FRAME_PENALTIES:
        model.frame_penalty = penalty
        scores = np.full(len(labels), -1.0)
        for i, (a, p) in enumerate(zip(dev.analyses, probabilities, strict=True)):
            if p is not None:
                on_topic, channel, _, _ = model.gate.check(a.signals)
                if on_topic and channel:
                    scores[i] = model.combine(a, p, cap).score
        for t in THRESHOLDS:
            flagged = scores >= t
            tp = int(np.sum(flagged & labels))
            fb = (1 + b2) * tp / (int(flagged.sum()) + b2 * int(labels.sum())) if tp else 0.0
            table.append((round(fb, 9), penalty, t))
    model.threshold = saved
    top = max(fb for fb, _, _ in table)
    penalty = max(pen for fb, pen, _ in table if fb == top)
    ties = [t for fb, pen, t in table if fb == top and pen == penalty]
    # the longest run of consecutive tied thresholds, then its middle
    runs: list[list[float]] = []
    for t in ties:
        if runs and abs(t - runs[-1][-1] - THRESHOLD_STEP) < 1e-9:
            runs[-1].append(t)
        else:
            runs.append([t])
    run = max(runs, key=len)
    return top, penalty, run[(len(run) - 1) // 2]


def summary(rep: Report, families: bool = False) -> dict[str, object]:
    o = rep.overall
    out: dict[str, object] = {
        "precision": round(o.precision, 4),
        "recall": round(o.recall, 4),
        "f1": round(o.f1, 4),
        "fp_rate": round(rep.fp_rate, 4),
        "hard_negative_fp_rate": round(rep.hard_negatives.rate, 4),
        "posts": o.tp + o.fp + o.fn + o.tn,
    }
    if families:
        out["recall_by_obfuscation"] = {k: round(r.rate, 4) for k, r in rep.by_obfuscation.items()}
    return out


def weights_digest(model: Classifier, directory: Path) -> str:
    npz = directory / f"{MODEL_NAME}.npz"
    return hashlib.sha256(npz.read_bytes()).hexdigest()[:10]


def train(
    out: Path = MODEL_DIR,
    limit: int | None = None,
    corpus: Path = CORPUS,
    evaluate_test: bool = True,
    log=print,
    c_grid: Sequence[float] = C_GRID,
) -> Classifier:
    detector = Detector(model_dir=None)
    paths = [corpus / "train.jsonl", corpus / "dev.jsonl"]
    train_split = Split(load_rows(paths[0], limit), detector)
    dev = Split(load_rows(paths[1], limit), detector)
    config = FeatureConfig()
    log(
        f"train {len(train_split.rows)} posts ({len(train_split.candidates)} candidates), "
        f"dev {len(dev.rows)}"
    )
    rules_dev = report(detector, dev, None)
    best: tuple[float, float] | None = None  # (CV log loss, C)
    for c in c_grid:
        loss = float(build(detector, train_split, c, config, 0.5).meta["cv_log_loss"])
        log(f"  C={c:<5} grouped {FOLDS}-fold CV log loss on train={loss:.5f}")
        if best is None or loss < best[0] - 1e-9:
            best = (loss, c)
    assert best is not None
    c = best[1]
    model = build(detector, train_split, c, config, 0.5)
    _, penalty, t = best_combination(detector, dev, model)
    model.threshold, model.frame_penalty = t, penalty
    log(f"chose C={c}, frame_penalty={penalty}, threshold={t:.2f} (on dev)")
    dev_rep = report(detector, dev, model)
    meta: dict[str, object] = {
        "trained_on": {
            "files": [p.name for p in paths],
            "data_hash": data_hash(paths),
            "limit": limit,
            "train_posts": len(train_split.rows),
            "train_candidates": len(train_split.candidates),
            "lexicon_version": detector.lexicon.version,
        },
        "model": {
            "kind": "logistic_regression",
            "solver": "liblinear",
            "C": c,
            "seed": SEED,
            "calibration": f"platt on {FOLDS}-fold grouped out-of-fold train scores",
            "C_from": f"lowest grouped {FOLDS}-fold CV log loss on train",
            "cv_log_loss": best[0],
            "threshold_from": f"best combined F{BETA} on dev (with frame_penalty)",
            "sklearn": sklearn.__version__,
        },
        "metrics": {"dev": summary(dev_rep), "dev_rules_only": summary(rules_dev)},
    }
    metrics: dict[str, object] = meta["metrics"]  # type: ignore[assignment]
    # held-out sets: scored once, after every choice, to report (never to choose)
    held_out = [("test", corpus / "test.jsonl"), ("holdout", HOLDOUT)]
    for name, path in held_out if evaluate_test else []:
        if path.exists():
            split = Split(load_rows(path, limit), detector)
            metrics[name] = summary(report(detector, split, model), families=True)
            metrics[f"{name}_rules_only"] = summary(report(detector, split, None))
    model.meta = meta
    model.save(out)  # once to hash the numbers, then again with the versioned name
    model.version = f"{MODEL_VERSION_PREFIX}-{weights_digest(model, out)}"
    model.save(out)
    log(json.dumps({"version": model.version, **meta["metrics"]}, indent=2))  # type: ignore[dict-item]
    return model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--limit", type=int, default=None, help="N posts per split (quick run)")
    args = parser.parse_args(argv)
    train(args.out, args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
