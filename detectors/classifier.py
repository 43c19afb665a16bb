"""The trained classifier: char n-grams + family features → a calibrated probability.

Why a model on top of the rules: the rules score what the lexicon names, so an ad that
says the same thing in words nobody listed yet ("把交的钱拿回来") scores too low, and a
warning that happens to hit two families scores too high. Character n-grams over the
normalised text (width, case, separators, traditional and aliases already folded) see
the rest of the sentence; the family features (what the rules found) keep it anchored.

Why no pickle: the artifact is a weight vector over *stateless* hashed n-grams (the hash
is defined here, ``ngrams``) plus a handful of scalars, saved with
``numpy.savez_compressed`` (``allow_pickle`` off) and a JSON file that says how it was
built. Loading rebuilds the scorer from those numbers, so the file cannot run code and
does not depend on a scikit-learn version (inference does not import scikit-learn).

How the model and the rules combine (one rule, documented in ``combine``):
the probability is the score, but
  1. a gate still holds: a post is flagged only if it is on a scheme's topic (a scheme or
     domain term, or a sales family: promise, risk reversal, fee, costume, ...) AND
     points somewhere private (a contact in the post or the bio, an invitation, the
     channel families of ``scoring.toml``); otherwise the score is capped below the
     threshold (``gate_cap``), whatever the model says. This is wider than the rules'
     own gate (which needs the lexicon to name the sale): the model judges the sale;
     the gate guarantees it never flags a post without the topic and a way in;
  2. frames still hold: a warning / news / exposure / official / grievance frame with no
     private contact or invitation in the post itself costs ``frame_penalty`` logits
     (chosen on dev, at least 1), on top of what the model already learned from the
     frame features, unless the rules flag the post anyway (they have already
     discounted the frame: "教你打12378" names an official number inside an ad). An ad
     dressed as a warning still invites, so it is not framed and keeps its score;
  3. the model runs only on *candidates* (a positive-family hit, a scheme term or a
     contact); every other post cannot pass the gate, so the rules' verdict stands.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from scipy import sparse

from detectors.lexicon import CONTEXT_FEATURE, SCHEME_FEATURE, Lexicon
from detectors.scoring import SHIELD_KINDS, Signals
from pipeline.models import CATEGORIES

if TYPE_CHECKING:
    from detectors.detector import Analysis

MODEL_DIR = Path(__file__).parent / "model"
MODEL_NAME = "classifier-v1"
FORMAT = 1
FALLBACK_CATEGORY = "other_scheme"
HASHING = "codepoint-poly-fib-v1"
_BASE = np.uint64(0x110000)  # one more than the largest code point
_SALT = np.uint64(0x9E3779B97F4A7C15)
_FIB = np.uint64(11400714819323198485)  # 2**64 / golden ratio
_TOPIC_FEATURES = frozenset({SCHEME_FEATURE, CONTEXT_FEATURE})


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How text becomes a vector. Saved in the model JSON; changing it needs retraining."""

    ngram_min: int = 1
    ngram_max: int = 3
    n_features: int = 2**18
    hashing: str = HASHING

    def counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, count) of every hashed char n-gram of every text (see ``ngrams``)."""
        return ngrams(texts, self.ngram_min, self.ngram_max, self.n_features)

    def matrix(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised hashed n-gram counts, one row per text (what training sees)."""
        rows, cols, counts = self.counts(texts)
        norms = np.sqrt(np.bincount(rows, counts * counts, minlength=len(texts)))
        data = counts / np.where(norms > 0, norms, 1.0)[rows]
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), self.n_features))


def ngrams(
    texts: Sequence[str], n_min: int, n_max: int, n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashed character n-grams of a batch, in numpy (no per-character Python loop).

    Why not scikit-learn's ``HashingVectorizer``: it builds every n-gram as a Python
    string, ~7,000 posts/s here; this hashes code-point windows of the whole batch at
    once (>50,000 posts/s). The hash: a polynomial over code points (mod 2**64, salted by
    n), then Fibonacci hashing to ``n_features`` buckets. N-grams never span two texts.
    """
    if n_features < 2 or n_features & (n_features - 1):
        raise ValueError(f"n_features must be a power of two, not {n_features}")
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
    shift = np.uint64(64 - int(n_features).bit_length() + 1)
    keys, rows = [], []
    with np.errstate(over="ignore"):
        for n in range(n_min, n_max + 1):
            m = len(cp) - n + 1
            if m <= 0:
                continue
            key = cp[:m] + np.uint64(n) * _SALT
            for k in range(1, n):
                key = key * _BASE + cp[k : k + m]
            same = doc[:m] == doc[n - 1 : n - 1 + m]
            keys.append((key[same] * _FIB) >> shift)
            rows.append(doc[:m][same])
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    combined = np.concatenate(rows) * n_features + np.concatenate(keys).astype(np.int64)
    unique, counts = np.unique(combined, return_counts=True)
    return unique // n_features, unique % n_features, counts.astype(np.float64)


@dataclass(frozen=True, slots=True)
class Gate:
    """The combination's gate and frame test, from the lexicon's families and the same
    ``scoring.toml`` channel / shield keys the rules use."""

    channel: frozenset[str]
    shield: frozenset[str]
    negative: frozenset[str]
    positive: frozenset[str] = frozenset()  # sales families (positive, not channels)

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon) -> Gate:
        cfg = lexicon.scoring["gate"]
        channel = frozenset(cfg["channel_families"])
        return cls(
            channel=channel,
            shield=frozenset(cfg.get("shield_families", channel)),
            negative=frozenset(
                f.name for f in lexicon.families.values() if f.polarity == "negative"
            ),
            positive=frozenset(
                f.name
                for f in lexicon.families.values()
                if f.polarity == "positive" and f.name not in channel
            ),
        )

    def check(self, s: Signals) -> tuple[bool, bool, bool, bool]:
        """(on_topic, channel, text_channel, framed) for one post's signals.

        ``on_topic`` is wider than the rules' "sells": a scheme or domain term, or any
        positive family that is not itself a channel. The rules need the lexicon to name
        the sale; with the model, the topic plus a private way in is the precondition
        and the probability judges whether it is a sale."""
        feats = {ev.feature for ev in s.terms}
        sells = not feats.isdisjoint(self.positive) or (
            not feats.isdisjoint(_TOPIC_FEATURES)
            and any(ev.category and ev.feature in _TOPIC_FEATURES for ev in s.terms)
        )
        contacts = s.contacts
        text_channel = not feats.isdisjoint(self.shield) or (
            bool(contacts) and any(c.kind in SHIELD_KINDS for c in contacts)
        )
        channel = (
            text_channel
            or bool(contacts)
            or bool(s.bio_contacts)
            or not feats.isdisjoint(self.channel)
        )
        framed = not text_channel and not feats.isdisjoint(self.negative)
        return sells, channel, text_channel, framed


def is_candidate(analysis: Analysis, negative: frozenset[str]) -> bool:
    """Worth a model call: anything sold, any family beyond frames, or any contact."""
    s = analysis.signals
    if s.contacts or s.bio_contacts:
        return True
    return any(ev.feature not in negative and ev.feature != CONTEXT_FEATURE for ev in s.terms)


def family_features(
    analysis: Analysis, gate: Gate, check: tuple[bool, bool, bool, bool] | None = None
) -> dict[str, float]:
    """What the rules found, as named numbers (names are stored in the model JSON),
    including the rules' own score and flag (stacking: the model learns when to trust
    them; grouped CV on train scored the same with and without them). ``check`` is
    ``gate.check(analysis.signals)`` when the caller has it already."""
    s = analysis.signals
    out: dict[str, float] = {}
    families: dict[str, set[str]] = {}
    for ev in s.terms:
        if ev.feature == SCHEME_FEATURE and ev.category:
            out[f"scheme:{ev.category}"] = 1.0
        elif ev.feature == CONTEXT_FEATURE and ev.category:
            out[f"domain:{ev.category}"] = 1.0
        else:
            families.setdefault(ev.feature, set()).add(ev.text)
    for name, texts in families.items():
        out[f"family:{name}"] = math.log1p(len(texts))
    for c in s.contacts:
        out[f"contact:{c.kind}"] = 1.0
    if s.contacts:
        out["contacts"] = math.log1p(len({c.canonical for c in s.contacts}))
    for c in s.bio_contacts:
        out[f"bio:{c.kind}"] = 1.0
    if s.exposed:
        out["exposed"] = 1.0
    sells, channel, text_channel, framed = gate.check(s) if check is None else check
    out["gate:sells"] = float(sells)
    out["gate:channel"] = float(channel)
    out["gate:text_channel"] = float(text_channel)
    out["gate:open"] = float(sells and channel)
    out["framed"] = float(framed)
    out["rule:score"] = analysis.rule.score
    out["rule:flagged"] = float(analysis.rule.flagged)
    return out


def feature_names(lexicon: Lexicon) -> list[str]:
    """Every name ``family_features`` can produce for this lexicon, in a fixed order."""
    kinds = ("wechat", "qq", "phone", "link")
    names = [f"scheme:{c}" for c in CATEGORIES] + [f"domain:{c}" for c in CATEGORIES]
    names += [f"family:{n}" for n in sorted(lexicon.families)]
    names += [f"contact:{k}" for k in kinds] + ["contacts"] + [f"bio:{k}" for k in kinds]
    names += ["exposed", "gate:sells", "gate:channel", "gate:text_channel", "gate:open"]
    names += ["framed", "rule:score", "rule:flagged"]
    return names


def family_matrix(
    analyses: Sequence[Analysis],
    gate: Gate,
    names: Sequence[str],
    checks: Sequence[tuple[bool, bool, bool, bool]] | None = None,
) -> np.ndarray:
    """``family_features`` of a batch as a matrix whose columns are ``names`` (names the
    lexicon no longer produces stay 0); ``checks`` as in ``family_features``."""
    return FamilyEncoder(names).matrix(analyses, gate, checks)


class FamilyEncoder:
    """``family_features`` straight into matrix columns: the same numbers, without
    building a name per feature per post (the column of every name is looked up once
    per process and kept here). A test checks it against ``family_features``."""

    _TAIL = ("gate:sells", "gate:channel", "gate:text_channel", "gate:open", "framed")

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._index = {n: i for i, n in enumerate(self.names)}
        self._cols: dict[tuple[str, str], int | None] = {}
        get = self._index.get
        self._contacts, self._exposed = get("contacts"), get("exposed")
        self._tail = [get(n) for n in self._TAIL]
        self._score, self._flagged = get("rule:score"), get("rule:flagged")

    def _col(self, prefix: str, name: str) -> int | None:
        key = (prefix, name)
        try:
            return self._cols[key]
        except KeyError:
            col = self._cols[key] = self._index.get(f"{prefix}:{name}")
            return col

    def matrix(
        self,
        analyses: Sequence[Analysis],
        gate: Gate,
        checks: Sequence[tuple[bool, bool, bool, bool]] | None = None,
    ) -> np.ndarray:
        rows: list[int] = []
        cols: list[int | None] = []
        vals: list[float] = []
        col_of = self._col
        for row, analysis in enumerate(analyses):
            s = analysis.signals
            found: list[tuple[int | None, float]] = []
            add = found.append
            families: dict[str, set[str]] = {}
            for ev in s.terms:
                feature, category = ev.feature, ev.category
                if feature == SCHEME_FEATURE and category:
                    add((col_of("scheme", category), 1.0))
                elif feature == CONTEXT_FEATURE and category:
                    add((col_of("domain", category), 1.0))
                else:
                    group = families.get(feature)
                    if group is None:
                        families[feature] = {ev.text}
                    else:
                        group.add(ev.text)
            for name, texts in families.items():
                add((col_of("family", name), math.log1p(len(texts))))
            if s.contacts:
                for c in s.contacts:
                    add((col_of("contact", c.kind), 1.0))
                add((self._contacts, math.log1p(len({c.canonical for c in s.contacts}))))
            for c in s.bio_contacts:
                add((col_of("bio", c.kind), 1.0))
            if s.exposed:
                add((self._exposed, 1.0))
            sells, channel, text_channel, framed = gate.check(s) if checks is None else checks[row]
            tail = (sells, channel, text_channel, sells and channel, framed)
            found += zip(self._tail, map(float, tail), strict=True)
            add((self._score, analysis.rule.score))
            add((self._flagged, float(analysis.rule.flagged)))
            for col, value in found:
                if col is not None:
                    rows.append(row)
                    cols.append(col)
                    vals.append(value)
        out = np.zeros((len(analyses), len(self.names)), dtype=np.float32)
        # as ``out[row, col] = value`` one by one: float64 → float32, and where a column
        # is set twice in a row the values are equal (1.0, or the same count)
        out[rows, cols] = np.array(vals, dtype=np.float64)
        return out


class Combined(NamedTuple):
    """A tuple: one per candidate post, and a frozen dataclass costs ≈ 5x more to build."""

    score: float
    flagged: bool
    reason: str


class Classifier:
    """A loaded model: scores batches of analyses, and combines a probability with the
    rules (``combine``). Immutable after construction, so one instance serves all threads."""

    def __init__(
        self,
        config: FeatureConfig,
        ngram_weights: np.ndarray,
        family_names: Sequence[str],
        family_weights: np.ndarray,
        bias: float,
        platt: tuple[float, float],
        threshold: float,
        gate: Gate,
        version: str,
        meta: dict[str, Any] | None = None,
        frame_penalty: float = 2.0,
    ) -> None:
        self.config = config
        self.version = version
        self.threshold = threshold
        self.frame_penalty = frame_penalty
        self.meta = meta or {}
        self.gate = gate
        self.family_names = list(family_names)
        self._w = np.asarray(ngram_weights, dtype=np.float32)
        self._v = np.asarray(family_weights, dtype=np.float32)
        self._v64 = self._v.astype(np.float64)
        self._bias = float(bias)
        self._a, self._b = float(platt[0]), float(platt[1])
        self._encoder = FamilyEncoder(self.family_names)
        # the reasons' "阈值 0.62", formatted once per threshold, not per post (training
        # sets ``threshold`` on a loaded model)
        self._threshold_text = (threshold, f"阈值 {threshold:.2f}")

    # scoring ---------------------------------------------------------------------------

    def decision(
        self,
        analyses: Sequence[Analysis],
        checks: Sequence[tuple[bool, bool, bool, bool]] | None = None,
    ) -> np.ndarray:
        """Raw linear scores (before calibration) for a batch; ``checks`` are the
        posts' ``gate.check`` results when the caller has them."""
        if not analyses:
            return np.zeros(0, dtype=np.float64)
        n = len(analyses)
        rows, cols, counts = self.config.counts([a.normalized for a in analyses])
        norms = np.sqrt(np.bincount(rows, counts * counts, minlength=n))
        dots = np.bincount(rows, counts * self._w[cols], minlength=n)
        text = dots / np.where(norms > 0, norms, 1.0)
        f = self._encoder.matrix(analyses, self.gate, checks)
        # A per-row float64 sum, not ``f @ v``: BLAS picks kernels by batch shape, which
        # made a post's score depend (at 1e-7) on the batch it arrived in, and the two
        # runners batch differently. Each row's sum here depends on that row alone.
        family = (np.asarray(f, dtype=np.float64) * self._v64).sum(axis=1)
        return text + family + self._bias

    def probabilities(
        self,
        analyses: Sequence[Analysis],
        checks: Sequence[tuple[bool, bool, bool, bool]] | None = None,
    ) -> np.ndarray:
        z = self._a * self.decision(analyses, checks) + self._b
        return 1.0 / (1.0 + np.exp(-z))

    def score_batch(self, analyses: Sequence[Analysis]) -> list[float | None]:
        """Probabilities for the candidates of a batch, None for the rest (one model call)."""
        out: list[float | None] = [None] * len(analyses)
        picked = [i for i, a in enumerate(analyses) if is_candidate(a, self.gate.negative)]
        if picked:
            probs = self.probabilities([analyses[i] for i in picked])
            for i, p in zip(picked, probs.tolist(), strict=True):
                out[i] = p
        return out

    def judge_batch(self, analyses: Sequence[Analysis], gate_cap: float) -> list[Combined | None]:
        """``combine(a, p, gate_cap)`` for every candidate of a batch (None for the rest):
        ``score_batch`` and ``combine`` in one pass, each post's gate checked once."""
        out: list[Combined | None] = [None] * len(analyses)
        negative = self.gate.negative
        picked = [i for i, a in enumerate(analyses) if is_candidate(a, negative)]
        if picked:
            chosen = [analyses[i] for i in picked]
            checks = [self.gate.check(a.signals) for a in chosen]
            probs = self.probabilities(chosen, checks).tolist()
            for i, a, p, check in zip(picked, chosen, probs, checks, strict=True):
                out[i] = self.combine(a, p, gate_cap, check)
        return out

    # combination -----------------------------------------------------------------------

    def combine(
        self,
        analysis: Analysis,
        probability: float,
        gate_cap: float,
        check: tuple[bool, bool, bool, bool] | None = None,
    ) -> Combined:
        """Final score = the probability, within the gate and the frames (module doc);
        ``check`` is ``gate.check(analysis.signals)`` when the caller has it."""
        sells, channel, _, framed = self.gate.check(analysis.signals) if check is None else check
        score = probability
        penalised = framed and not analysis.rule.flagged
        if penalised:
            z = math.log(max(score, 1e-12) / max(1.0 - score, 1e-12)) - self.frame_penalty
            score = 1.0 / (1.0 + math.exp(-z))
        gate_open = sells and channel
        if not gate_open:
            score = min(score, gate_cap)
        flagged = gate_open and score >= self.threshold
        note = ""
        if not gate_open and probability >= self.threshold:
            note = ", 但缺少业务词或私下联系方式, 不标记"
        elif penalised:
            note = f", 含警示/新闻/曝光语境且无私下联系方式, 降为 {score:.2f}"
        shown, text = self._threshold_text
        if shown != self.threshold:
            shown, text = self._threshold_text = (self.threshold, f"阈值 {self.threshold:.2f}")
        reason = f"模型概率 {probability:.2f} ({text}, 规则分 {analysis.rule.score:.2f}){note}"
        return Combined(score, flagged, reason)

    # persistence -----------------------------------------------------------------------

    def save(self, directory: Path = MODEL_DIR, name: str = MODEL_NAME) -> tuple[Path, Path]:
        """Write ``<name>.npz`` (numbers only) and ``<name>.json`` (how, from what)."""
        directory.mkdir(parents=True, exist_ok=True)
        nz = np.flatnonzero(self._w)
        npz, meta = directory / f"{name}.npz", directory / f"{name}.json"
        with npz.open("wb") as fh:
            np.savez_compressed(
                fh,
                ngram_index=nz.astype(np.int32),
                ngram_weight=self._w[nz].astype(np.float32),
                family_weight=self._v.astype(np.float32),
                scalars=np.array([self._bias, self._a, self._b], dtype=np.float64),
            )
        payload = {
            "format": FORMAT,
            "version": self.version,
            "features": {**asdict(self.config), "analyzer": "char", "norm": "l2"},
            "family_names": self.family_names,
            "threshold": self.threshold,
            "frame_penalty": self.frame_penalty,
            **self.meta,
        }
        meta.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", "utf-8")
        return npz, meta

    @classmethod
    def load(
        cls, lexicon: Lexicon, directory: Path = MODEL_DIR, name: str = MODEL_NAME
    ) -> Classifier | None:
        """The saved model, or None when there is none (the rules then decide alone)."""
        npz, meta = directory / f"{name}.npz", directory / f"{name}.json"
        if not (npz.exists() and meta.exists()):
            return None
        info = json.loads(meta.read_text("utf-8"))
        if info.get("format") != FORMAT:
            raise ValueError(f"{meta}: unsupported model format {info.get('format')!r}")
        feats = info["features"]
        if feats.get("hashing") != HASHING:
            raise ValueError(f"{meta}: unknown n-gram hashing {feats.get('hashing')!r}")
        config = FeatureConfig(feats["ngram_min"], feats["ngram_max"], feats["n_features"])
        with np.load(npz, allow_pickle=False) as data:
            w = np.zeros(config.n_features, dtype=np.float32)
            w[data["ngram_index"]] = data["ngram_weight"]
            v, scalars = data["family_weight"], data["scalars"]
        names = info["family_names"]
        if len(names) != len(v):
            raise ValueError(f"{meta}: {len(names)} feature names but {len(v)} weights")
        extra = {k: val for k, val in info.items() if k not in _CORE_KEYS}
        return cls(
            config,
            w,
            names,
            v,
            bias=float(scalars[0]),
            platt=(float(scalars[1]), float(scalars[2])),
            threshold=float(info["threshold"]),
            gate=Gate.from_lexicon(lexicon),
            version=str(info["version"]),
            meta=extra,
            frame_penalty=float(info["frame_penalty"]),
        )


_CORE_KEYS = frozenset(
    {"format", "version", "features", "family_names", "threshold", "frame_penalty"}
)


def flagged_categories(analysis: Analysis) -> list[str]:
    """Categories for a post the model flagged: every category its terms name (scheme and
    domain terms, families), else ``other_scheme`` — a flagged post always has one."""
    named = {ev.category for ev in analysis.signals.terms if ev.category}
    found = [c for c in CATEGORIES if c in named]
    return found or [FALLBACK_CATEGORY]
