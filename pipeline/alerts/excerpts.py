"""Evidence excerpts: a post cut to a readable window around what the detector matched.

Why cut: an alert is read in a mail client; a 2,000-character post with three matches
near its end hides them. The window keeps the matches and some context, and the spans
are re-based onto the snippet so every renderer marks exactly the matched characters
(the mail templates escape the text and wrap the spans; they never trust the post).
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.models import Evidence, Excerpt, ScoredPost, Span

CONTEXT_CHARS = 40  # before the first match
MAX_SNIPPET_CHARS = 200


def excerpt(scored: ScoredPost, max_chars: int = MAX_SNIPPET_CHARS) -> Excerpt:
    """The post's snippet with its evidence spans (those inside the window)."""
    text = scored.post.text
    evidence = sorted(
        (e for e in scored.verdict.evidence if 0 <= e.start < e.end <= len(text)),
        key=lambda e: (e.start, e.end),
    )
    start = max(0, evidence[0].start - CONTEXT_CHARS) if evidence else 0
    end = min(len(text), start + max_chars)
    spans = [
        Span(start=e.start - start, end=e.end - start, feature=e.feature, text=e.text)
        for e in _non_overlapping(evidence)
        if e.end <= end
    ]
    verdict = scored.verdict
    return Excerpt(
        post_key=scored.post.key,
        snippet=text[start:end],
        spans=spans,
        url=scored.post.url,
        score=round(float(verdict.score), 4),
        categories=list(verdict.categories),
        contacts=contact_labels(scored),
        created_at=scored.post.created_at,
        cut_before=start > 0,
        cut_after=end < len(text),
    )


def _non_overlapping(evidence: Iterable[Evidence]) -> list[Evidence]:
    """Nested or overlapping matches mark once (the earliest, then the longest)."""
    kept: list[Evidence] = []
    for item in sorted(evidence, key=lambda e: (e.start, -(e.end - e.start))):
        if kept and item.start < kept[-1].end:
            continue
        kept.append(item)
    return kept


def contact_labels(scored: ScoredPost) -> list[str]:
    """The post's private contacts as investigators search for them (canonical form)."""
    labels = [c.canonical or f"{c.kind}:{c.value}" for c in scored.verdict.contacts]
    return list(dict.fromkeys(labels))


def fragments(snippet: str, spans: Iterable[Span]) -> list[tuple[str, str]]:
    """The snippet as ``(text, feature)`` pieces, feature "" for unmarked text: the
    templates escape each piece and wrap the marked ones."""
    out: list[tuple[str, str]] = []
    at = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < at or span.end > len(snippet) or span.start >= span.end:
            continue
        if span.start > at:
            out.append((snippet[at : span.start], ""))
        out.append((snippet[span.start : span.end], span.feature or "match"))
        at = span.end
    if at < len(snippet):
        out.append((snippet[at:], ""))
    return out
