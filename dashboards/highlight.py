"""Highlight fragments for a post: the store's, or rebuilt from the verdict's evidence.

Why a fallback: every store should fill ``SearchHit.highlight``, but a hit fetched by key
(``account_posts``, ``get_post``) or from a store that skipped it would otherwise show the
investigator a post with no visible reason for its score. Evidence offsets are Python str
indices into the original text (the scan contract), so rebuilding is exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.models import Evidence, SearchHit

Fragment = tuple[str, str]
_CLASS_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def evidence_fragments(text: str, evidence: Sequence[Evidence]) -> list[Fragment]:
    """Cut ``text`` into ``(text, feature)`` fragments; overlapping spans keep the first
    (earliest, then longest) so every character appears exactly once."""
    spans = sorted(
        (e for e in evidence if 0 <= e.start < e.end <= len(text)),
        key=lambda e: (e.start, -(e.end - e.start)),
    )
    fragments: list[Fragment] = []
    cursor = 0
    for span in spans:
        if span.start < cursor:
            continue
        if span.start > cursor:
            fragments.append((text[cursor : span.start], ""))
        fragments.append((text[span.start : span.end], span.feature or "evidence"))
        cursor = span.end
    if cursor < len(text):
        fragments.append((text[cursor:], ""))
    return fragments


def hit_fragments(hit: SearchHit) -> list[Fragment]:
    """The fragments to render for a hit (the store's, else rebuilt from evidence)."""
    if hit.highlight:
        return [(str(text), str(mark)) for text, mark in hit.highlight]
    return evidence_fragments(hit.post.text, hit.verdict.evidence)


def feature_class(feature: str) -> str:
    """A CSS class token for an evidence feature (``ev-contact-wechat``); the feature
    name itself is data, so it is folded to a safe token rather than trusted."""
    token = _CLASS_UNSAFE.sub("-", feature.lower()).strip("-")
    return f"ev-{token or 'other'}"
