"""Metrics for ``radar eval``: pure functions over (label, verdict) rows.

Why these metrics: recall says how many ads we miss; precision and above all the
false-positive rate on label-0 posts say how often we would put a genuine complaint or a
regulator's warning in front of an investigator as "black market" — the costliest error.
The worst mistakes are listed so a lexicon reviewer sees *which* posts to look at.

Hard negatives are the label-0 posts a keyword list would flag: every kind except small
talk and look-alikes (warnings, news, complaints, victims, lawyers...), plus any label-0
post that shares the scheme's vocabulary (the detector found evidence in it). Recall per
obfuscation family (the corpus ``obfuscation`` tags) shows which disguise still gets through.

Per category c: recall = share of label-1 posts of category c flagged with c among their
categories; precision counts label-0 posts flagged with c as false alarms, while a real
ad also filed under c (a "债务优化 + 征信修复" post) counts neither way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.models import CATEGORIES, CATEGORY_LABELS_ZH


@dataclass(frozen=True, slots=True)
class EvalRow:
    id: str
    label: int
    category: str | None
    flagged: bool
    score: float
    predicted: tuple[str, ...]
    text: str = ""
    kind: str | None = None
    obfuscation: tuple[str, ...] = ()
    vocabulary: bool = False  # the detector found some evidence (term or contact)


EASY_KINDS = frozenset({"chatter", "lookalike"})


def is_hard_negative(row: EvalRow) -> bool:
    if row.label:
        return False
    return row.vocabulary or (row.kind is not None and row.kind not in EASY_KINDS)


@dataclass(slots=True)
class Rate:
    """hits / n, for a FP rate (hits = false alarms) or a recall (hits = caught)."""

    hits: int = 0
    n: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"hits": self.hits, "n": self.n, "rate": round(self.rate, 4)}


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "support": self.support,
        }


@dataclass(slots=True)
class Report:
    overall: Counts
    by_category: dict[str, Counts]
    fp_rate: float
    negatives: int
    mistakes: list[EvalRow] = field(default_factory=list)
    hard_negatives: Rate = field(default_factory=Rate)
    fp_by_kind: dict[str, Rate] = field(default_factory=dict)
    by_obfuscation: dict[str, Rate] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.as_dict(),
            "by_category": {c: n.as_dict() for c, n in self.by_category.items()},
            "fp_rate": round(self.fp_rate, 4),
            "negatives": self.negatives,
            "hard_negatives": {
                "fp": self.hard_negatives.hits,
                "n": self.hard_negatives.n,
                "fp_rate": round(self.hard_negatives.rate, 4),
            },
            "fp_by_kind": {k: r.as_dict() for k, r in self.fp_by_kind.items()},
            "recall_by_obfuscation": {k: r.as_dict() for k, r in self.by_obfuscation.items()},
            "mistakes": [
                {
                    "id": m.id,
                    "label": m.label,
                    "category": m.category,
                    "kind": m.kind,
                    "obfuscation": list(m.obfuscation),
                    "score": round(m.score, 4),
                    "flagged": m.flagged,
                    "snippet": snippet(m.text),
                }
                for m in self.mistakes
            ],
        }


def confusion(rows: Iterable[EvalRow]) -> Counts:
    counts = Counts()
    for r in rows:
        if r.label and r.flagged:
            counts.tp += 1
        elif r.label:
            counts.fn += 1
        elif r.flagged:
            counts.fp += 1
        else:
            counts.tn += 1
    return counts


def category_counts(rows: list[EvalRow], category: str) -> Counts:
    """A real ad filed under another category is a miss for its own category, not a
    false alarm here: precision counts only label-0 posts flagged with ``category``."""
    counts = Counts()
    for r in rows:
        said = r.flagged and category in r.predicted
        if r.label and r.category == category:
            if said:
                counts.tp += 1
            else:
                counts.fn += 1
        elif not r.label:
            if said:
                counts.fp += 1
            else:
                counts.tn += 1
    return counts


def false_positive_rate(rows: Iterable[EvalRow]) -> tuple[float, int]:
    negatives = [r for r in rows if not r.label]
    if not negatives:
        return 0.0, 0
    return sum(r.flagged for r in negatives) / len(negatives), len(negatives)


def hard_negative_rate(rows: Iterable[EvalRow]) -> Rate:
    hard = [r for r in rows if is_hard_negative(r)]
    return Rate(sum(r.flagged for r in hard), len(hard))


def fp_by_kind(rows: Iterable[EvalRow]) -> dict[str, Rate]:
    out: dict[str, Rate] = {}
    for r in rows:
        if not r.label and r.kind:
            rate = out.setdefault(r.kind, Rate())
            rate.n += 1
            rate.hits += r.flagged
    return dict(sorted(out.items()))


def recall_by_obfuscation(rows: Iterable[EvalRow]) -> dict[str, Rate]:
    out: dict[str, Rate] = {}
    for r in rows:
        if r.label:
            for tag in r.obfuscation or ("none",):
                rate = out.setdefault(tag, Rate())
                rate.n += 1
                rate.hits += r.flagged
    return dict(sorted(out.items()))


def worst_mistakes(rows: Iterable[EvalRow], limit: int = 10) -> list[EvalRow]:
    """Misses with the lowest score and false alarms with the highest, worst first."""
    wrong = [r for r in rows if bool(r.label) != r.flagged]
    wrong.sort(key=lambda r: (-abs(r.label - r.score), r.id))
    return wrong[:limit]


def build_report(rows: list[EvalRow], limit: int = 10) -> Report:
    seen = {r.category for r in rows if r.label and r.category}
    categories = [c for c in CATEGORIES if c in seen] + sorted(seen - set(CATEGORIES))
    rate, negatives = false_positive_rate(rows)
    return Report(
        overall=confusion(rows),
        by_category={c: category_counts(rows, c) for c in categories},
        fp_rate=rate,
        negatives=negatives,
        mistakes=worst_mistakes(rows, limit),
        hard_negatives=hard_negative_rate(rows),
        fp_by_kind=fp_by_kind(rows),
        by_obfuscation=recall_by_obfuscation(rows),
    )


def _rates(rates: dict[str, Rate]) -> str:
    return ", ".join(f"{k} {r.rate:.2f} ({r.hits}/{r.n})" for k, r in rates.items())


def _wrap(text: str, width: int = 96) -> list[str]:
    lines, line = [], " "
    for item in text.split(", "):
        if len(line) + len(item) + 2 > width and line.strip():
            lines.append(line.rstrip(", "))
            line = " "
        line += f" {item},"
    if line.strip():
        lines.append(line.rstrip(","))
    return lines


def snippet(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_report(report: Report) -> str:
    """A plain-text table for terminals (zh category names next to the codes)."""
    lines = [f"{'':<28}{'P':>7}{'R':>7}{'F1':>7}{'TP':>6}{'FP':>6}{'FN':>6}{'n':>6}"]

    def row(name: str, c: Counts) -> str:
        return (
            f"{name:<28}{c.precision:>7.3f}{c.recall:>7.3f}{c.f1:>7.3f}"
            f"{c.tp:>6}{c.fp:>6}{c.fn:>6}{c.support:>6}"
        )

    lines.append(row("overall", report.overall))
    for name, counts in report.by_category.items():
        label = f"{name} ({CATEGORY_LABELS_ZH.get(name, '')})"
        # CJK characters take two columns; pad by display width
        pad = 28 - sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)
        lines.append(row("", counts).replace(" " * 28, label + " " * max(pad, 1), 1))
    lines.append("")
    lines.append(
        f"false-positive rate on label-0 posts: {report.fp_rate:.4f} "
        f"({report.overall.fp}/{report.negatives})"
    )
    hard = report.hard_negatives
    lines.append(f"false-positive rate on hard negatives: {hard.rate:.4f} ({hard.hits}/{hard.n})")
    if report.fp_by_kind:
        lines.append("  by kind:")
        lines.extend(_wrap(_rates(report.fp_by_kind)))
    if report.by_obfuscation:
        lines.append("")
        lines.append("recall by obfuscation family:")
        lines.extend(_wrap(_rates(report.by_obfuscation)))
    if report.mistakes:
        lines.append("")
        lines.append("worst mistakes:")
        for m in report.mistakes:
            kind = "missed" if m.label else "false alarm"
            lines.append(
                f"  {kind:<11} {m.id:<16} score={m.score:.3f} {m.category or '-':<13}"
                f" {m.kind or '-':<16} {snippet(m.text)}"
            )
    return "\n".join(lines) + "\n"
