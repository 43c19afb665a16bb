"""Ring evaluation: pairwise precision and recall of ring membership on labeled posts.

Why pairwise: a ring is a set of accounts, and investigators act on "these two accounts
are one shop". Counting pairs scores a partial recovery fairly (finding 5 of a ring's 6
accounts keeps most pairs) and punishes a false merge in proportion to the accounts it
drags in. Accounts outside every true ring are negatives: any pair that includes one and
that the detector puts in a ring is a false positive.

Labeled posts become accounts by grouping on ``(platform, author_id)``, with the author's
bio as the account bio; a post's ``ring`` field (null or absent: no ring) labels its
account. The input is read the way ``radar eval`` reads it: a bad line is reported on
stderr as ``line N: reason``, skipped, and makes the exit status 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from detectors.accounts import score_accounts
from pipeline.models import MAX_BIO_CHARS, MAX_TEXT_CHARS, account_key

if TYPE_CHECKING:
    from detectors.detector import Detector


class RingPostIn(msgspec.Struct):
    id: str
    text: str
    platform: str = "unknown"
    author_id: str | None = None
    author_name: str | None = None
    author_bio: str | None = None
    ring: str | None = None


@dataclass(slots=True)
class LabeledAccounts:
    """Account inputs for ``score_accounts`` and the true ring of each (None: no ring)."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, str | None] = field(default_factory=dict)


def group_accounts(posts: Iterable[RingPostIn]) -> LabeledAccounts:
    """Group posts by author into ``radar scan --accounts`` inputs, in first-seen order.
    Posts without an author cannot belong to an account and are left out."""
    out = LabeledAccounts()
    by_key: dict[str, dict[str, Any]] = {}
    for p in posts:
        if not p.author_id:
            continue
        key = account_key(p.platform, p.author_id)
        acct = by_key.get(key)
        if acct is None:
            acct = {
                "account_id": p.author_id,
                "platform": p.platform,
                "nickname": p.author_name,
                "bio": p.author_bio[:MAX_BIO_CHARS] if p.author_bio else None,
                "posts": [],
            }
            by_key[key] = acct
            out.accounts.append(acct)
            out.truth[key] = None
        if not acct["bio"] and p.author_bio:
            acct["bio"] = p.author_bio[:MAX_BIO_CHARS]
        acct["posts"].append({"id": p.id, "text": p.text[:MAX_TEXT_CHARS]})
        if p.ring:
            out.truth[key] = p.ring
    return out


@dataclass(frozen=True, slots=True)
class PairScore:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        """1.0 when nothing is predicted: no pair was wrongly linked."""
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        """1.0 when there is no true pair to find."""
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(predicted: Mapping[str, str | None], truth: Mapping[str, str | None]) -> PairScore:
    """Pairwise scores over the accounts in ``truth``; None (or missing) means no ring."""
    pred_sizes = Counter(predicted.get(k) for k in truth if predicted.get(k))
    true_sizes = Counter(r for r in truth.values() if r)
    both = Counter((predicted.get(k), r) for k, r in truth.items() if r and predicted.get(k))
    return PairScore(
        true_pairs=sum(_pairs(n) for n in true_sizes.values()),
        predicted_pairs=sum(_pairs(n) for n in pred_sizes.values()),
        correct_pairs=sum(_pairs(n) for n in both.values()),
    )


@dataclass(slots=True)
class RingReport:
    accounts: int
    score: PairScore
    true_rings: dict[str, list[str]]
    predicted_rings: dict[str, list[str]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "true_pairs": self.score.true_pairs,
            "predicted_pairs": self.score.predicted_pairs,
            "correct_pairs": self.score.correct_pairs,
            "precision": round(self.score.precision, 4),
            "recall": round(self.score.recall, 4),
            "true_rings": self.true_rings,
            "predicted_rings": self.predicted_rings,
        }


def ring_report(labeled: LabeledAccounts, detector: Detector | None = None) -> RingReport:
    """Score the accounts, find rings, and compare them with the labels."""
    results = score_accounts(labeled.accounts, detector)
    predicted = {account_key(r["platform"], r["account_id"]): r["ring"] for r in results}
    true_rings: dict[str, list[str]] = {}
    for key, ring in labeled.truth.items():
        if ring:
            true_rings.setdefault(ring, []).append(key)
    pred_rings: dict[str, list[str]] = {}
    for key, ring in predicted.items():
        if ring:
            pred_rings.setdefault(ring, []).append(key)
    return RingReport(
        accounts=len(labeled.truth),
        score=pairwise(predicted, labeled.truth),
        true_rings=true_rings,
        predicted_rings=pred_rings,
    )


def format_ring_report(report: RingReport) -> str:
    s = report.score
    lines = [
        f"rings: {len(report.true_rings)} labeled, {len(report.predicted_rings)} found, "
        f"{report.accounts} accounts",
        f"pairwise precision {s.precision:.3f} ({s.correct_pairs}/{s.predicted_pairs}), "
        f"recall {s.recall:.3f} ({s.correct_pairs}/{s.true_pairs})",
    ]
    where = {k: rid for rid, keys in report.predicted_rings.items() for k in keys}
    for ring, keys in sorted(report.true_rings.items()):
        found = Counter(where.get(k) for k in keys)
        lines.append(f"  {ring}: {len(keys)} accounts → {dict(found)}")
    truth = {k: r for r, keys in report.true_rings.items() for k in keys}
    for rid, keys in sorted(report.predicted_rings.items()):
        strays = [k for k in keys if k not in truth]
        if strays:
            lines.append(f"  {rid}: unlabeled accounts merged in: {', '.join(strays)}")
    return "\n".join(lines) + "\n"


def _records(lines: Iterable[bytes], err: TextIO) -> tuple[list[RingPostIn], int]:
    decoder = msgspec.json.Decoder(RingPostIn)
    posts: list[RingPostIn] = []
    skipped = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            post = decoder.decode(line)
            if not post.id.strip():
                raise ValueError("empty `id`")
        except (msgspec.DecodeError, ValueError) as exc:
            skipped += 1
            err.write(f"line {number}: {exc}\n")
            continue
        posts.append(post)
    return posts, skipped


def evaluate_rings(
    lines: Iterable[bytes],
    out: TextIO,
    err: TextIO,
    detector: Detector,
    as_json: bool = False,
) -> int:
    """``radar eval PATH --rings``: pairwise ring precision / recall on labeled posts."""
    posts, skipped = _records(lines, err)
    report = ring_report(group_accounts(posts), detector)
    if as_json:
        payload = {"detector_version": detector.version, **report.as_dict()}
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(f"detector {detector.version}, {len(posts)} posts\n")
        out.write(format_ring_report(report))
    out.flush()
    return 1 if skipped else 0
