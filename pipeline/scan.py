"""``radar scan`` and ``radar eval``: JSON Lines in, verdicts / metrics out.

Why so strict about bad lines: these commands sit in other people's shell pipelines. One
broken record must neither stop the run nor vanish silently, so each one is reported on
stderr as ``line N: reason`` (N counts from 1, blank lines included), skipped, and
reflected in the exit status (1 if anything was skipped). Never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal, TextIO, TypeVar

import msgspec

from detectors import Detector
from detectors.accounts import score_accounts
from detectors.evaluate import EvalRow, build_report, format_report
from pipeline.models import MAX_BIO_CHARS, MAX_TEXT_CHARS, Verdict


class PostIn(msgspec.Struct):
    id: str
    text: str
    platform: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author_bio: str | None = None
    url: str | None = None
    created_at: str | None = None


class LabeledPostIn(msgspec.Struct):
    id: str
    text: str
    label: Literal[0, 1]
    category: str | None = None
    author_bio: str | None = None
    kind: str | None = None  # corpus kind (warning, news, victim, ...): hard negatives
    obfuscation: list[str] = msgspec.field(default_factory=list)  # disguise families


class AccountPostIn(msgspec.Struct):
    id: str
    text: str


class AccountIn(msgspec.Struct):
    account_id: str
    platform: str | None = None
    nickname: str | None = None
    bio: str | None = None
    posts: list[AccountPostIn] = msgspec.field(default_factory=list)


class EvidenceOut(msgspec.Struct):
    start: int
    end: int
    text: str
    feature: str


class ContactOut(msgspec.Struct):
    kind: str
    value: str
    start: int
    end: int


class VerdictOut(msgspec.Struct):
    """Field order is the contract's order."""

    id: str
    flagged: bool
    score: float
    categories: list[str]
    evidence: list[EvidenceOut]
    contacts: list[ContactOut]


class BadLine(ValueError):
    pass


T = TypeVar("T")
_encoder = msgspec.json.Encoder()


class _Reader:
    """Decodes and validates input lines; reports and counts the ones it skips."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.skipped = 0

    def records(self, lines: Iterable[bytes], kind: type[T]) -> Iterator[T]:
        decoder = msgspec.json.Decoder(kind)
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue  # a blank line is not a record
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._skip(number, f"invalid UTF-8 at byte {exc.start}")
                continue
            try:
                record = decoder.decode(text)
                _check(record)
            except (msgspec.DecodeError, BadLine) as exc:
                self._skip(number, str(exc))
                continue
            yield record

    def _skip(self, number: int, reason: str) -> None:
        self.skipped += 1
        self.err.write(f"line {number}: {reason}\n")


def _check(record: Any) -> None:
    for name in ("id", "account_id", "text"):
        value = getattr(record, name, None)
        if isinstance(value, str) and not value.strip():
            raise BadLine(f"empty `{name}`")
    for i, post in enumerate(getattr(record, "posts", ())):
        if not post.id.strip() or not post.text.strip():
            raise BadLine(f"empty `id` or `text` - at `$.posts[{i}]`")


def verdict_json(post_id: str, verdict: Verdict) -> str:
    """The contract's output line. Bio contacts are left out: their offsets index the
    bio, not ``text``, and every offset in this output indexes ``text``."""
    out = VerdictOut(
        id=post_id,
        flagged=verdict.flagged,
        score=round(verdict.score, 4),
        categories=list(verdict.categories),
        evidence=[EvidenceOut(e.start, e.end, e.text, e.feature) for e in verdict.evidence],
        contacts=[
            ContactOut(c.kind, c.value, c.start, c.end) for c in verdict.contacts if not c.in_bio
        ],
    )
    return _encoder.encode(out).decode("utf-8")


def _detect(detector: Detector, text: str, bio: str | None) -> Verdict:
    return detector.detect(text[:MAX_TEXT_CHARS], bio[:MAX_BIO_CHARS] if bio else None)


def scan_posts(lines: Iterable[bytes], out: TextIO, err: TextIO, detector: Detector) -> int:
    """One verdict per valid input post, in input order."""
    reader = _Reader(err)
    for post in reader.records(lines, PostIn):
        verdict = _detect(detector, post.text, post.author_bio)
        out.write(verdict_json(post.id, verdict) + "\n")
    out.flush()
    return 1 if reader.skipped else 0


def scan_accounts(lines: Iterable[bytes], out: TextIO, err: TextIO, detector: Detector) -> int:
    """Accounts are scored together: rings span the whole input."""
    reader = _Reader(err)
    accounts = [
        {
            "account_id": a.account_id,
            "platform": a.platform,
            "nickname": a.nickname,
            "bio": a.bio[:MAX_BIO_CHARS] if a.bio else a.bio,
            "posts": [{"id": p.id, "text": p.text[:MAX_TEXT_CHARS]} for p in a.posts],
        }
        for a in reader.records(lines, AccountIn)
    ]
    for result in score_accounts(accounts, detector):
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 1 if reader.skipped else 0


EVAL_BATCH = 500


def evaluate(
    lines: Iterable[bytes],
    out: TextIO,
    err: TextIO,
    detector: Detector,
    as_json: bool = False,
) -> int:
    """Precision / recall / F1 (overall and per category), FP rate (all label-0 posts and
    hard negatives), recall per obfuscation family, worst mistakes. Posts are scored in
    batches through ``detect_many``, as the runner scores them."""
    reader = _Reader(err)
    rows: list[EvalRow] = []
    batch: list[LabeledPostIn] = []
    for post in reader.records(lines, LabeledPostIn):
        batch.append(post)
        if len(batch) >= EVAL_BATCH:
            rows += _eval_rows(detector, batch)
            batch = []
    rows += _eval_rows(detector, batch)
    report = build_report(rows)
    if as_json:
        payload = {"detector_version": detector.version, "posts": len(rows), **report.as_dict()}
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(f"detector {detector.version}, {len(rows)} posts\n")
        out.write(format_report(report))
    out.flush()
    return 1 if reader.skipped else 0


def _eval_rows(detector: Detector, posts: list[LabeledPostIn]) -> list[EvalRow]:
    if not posts:
        return []
    verdicts = detector.detect_many(
        [
            (p.text[:MAX_TEXT_CHARS], p.author_bio[:MAX_BIO_CHARS] if p.author_bio else None)
            for p in posts
        ]
    )
    return [
        EvalRow(
            id=post.id,
            label=post.label,
            category=post.category or None,
            flagged=verdict.flagged,
            score=verdict.score,
            predicted=tuple(verdict.categories),
            text=post.text,
            kind=post.kind or None,
            obfuscation=tuple(post.obfuscation),
            vocabulary=bool(verdict.evidence),
        )
        for post, verdict in zip(posts, verdicts, strict=True)
    ]
