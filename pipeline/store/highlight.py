"""Highlight fragments over a post's original text: query matches and evidence spans.

Why a pure function of its own: both stores (SQLite and Elasticsearch) must cut the same
text the same way, and neither FTS5's ``highlight()`` nor Elasticsearch's highlighter can:
they work on indexed tokens (bigrams here), not on the original string with the
detector's evidence offsets. Fragments are ``(text, mark)`` with mark ``""`` (plain),
``"q"`` (a query term) or the evidence feature name; renderers escape them on their own
terms, so nothing here produces HTML.

Query terms are matched on folded text (NFKC + lower-case, see
:func:`pipeline.store.fts.fold`), so ``vx`` marks ``ＶＸ`` in the original, and the mark
maps back to the original characters that produced the match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.models import Evidence
from pipeline.store.fts import fold

QUERY_MARK = "q"
DEFAULT_EVIDENCE_MARK = "evidence"


def _folded_with_origin(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index of the original
    character it came from (one original character may fold to several)."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = fold(ch)
        parts.append(folded)
        origin.extend([i] * len(folded))
    return "".join(parts), origin


def _mark_evidence(marks: list[str], evidence: Iterable[Evidence]) -> None:
    # Earliest, then longest span first; a character keeps the first feature that claims
    # it (the same rule as the dashboard's fallback renderer).
    n = len(marks)
    for ev in sorted(evidence, key=lambda e: (e.start, -(e.end - e.start))):
        mark = ev.feature or DEFAULT_EVIDENCE_MARK
        for i in range(max(0, ev.start), min(n, ev.end)):
            if not marks[i]:
                marks[i] = mark


def _mark_terms(marks: list[str], text: str, terms: Iterable[str]) -> None:
    wanted = {fold(t).strip() for t in terms}
    wanted.discard("")
    if not wanted:
        return
    folded, origin = _folded_with_origin(text)
    for term in wanted:
        at = folded.find(term)
        while at != -1:
            for i in range(origin[at], origin[at + len(term) - 1] + 1):
                marks[i] = QUERY_MARK
            at = folded.find(term, at + 1)


def highlight(
    text: str, terms: Sequence[str], evidence: Sequence[Evidence]
) -> list[tuple[str, str]]:
    """Cut ``text`` into ``(fragment, mark)`` pairs that concatenate back to ``text``.

    Adjacent fragments always differ in mark. Evidence offsets are Python str indices into
    ``text``; out-of-range spans are clipped. Where a query match and evidence overlap,
    the query mark wins, because it answers what the investigator just asked.
    """
    if not text:
        return []
    marks = [""] * len(text)
    _mark_evidence(marks, evidence)
    _mark_terms(marks, text, terms)
    fragments: list[tuple[str, str]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marks[i] != marks[start]:
            fragments.append((text[start:i], marks[start]))
            start = i
    return fragments
