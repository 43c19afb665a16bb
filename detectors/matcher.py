"""Find every lexicon term in normalised text with one Aho-Corasick pass.

Why Aho-Corasick: the lexicon has hundreds of phrases and grows with every review; one
automaton scans a post once, whatever the number of phrases, in C.
"""

from __future__ import annotations

from dataclasses import dataclass

import ahocorasick

from detectors.lexicon import CONTEXT_FEATURE, SCHEME_FEATURE, Lexicon
from detectors.normalize import ASCII_ALNUM, Normalizer


@dataclass(frozen=True, slots=True)
class TermEntry:
    """One lexicon term as written by the analyst, and what it is evidence of."""

    term: str
    feature: str  # a family name, SCHEME_FEATURE or CONTEXT_FEATURE
    category: str | None  # for scheme / context terms and families that name a category
    weight: float


@dataclass(frozen=True, slots=True)
class Hit:
    """A term found in ``NormText.norm`` at ``[start, end)``."""

    start: int
    end: int
    entry: TermEntry


class Matcher:
    def __init__(self, lexicon: Lexicon, normalizer: Normalizer) -> None:
        by_key: dict[str, list[TermEntry]] = {}
        for category in lexicon.categories.values():
            for term in category.terms:
                entry = TermEntry(term, SCHEME_FEATURE, category.name, category.weight_of(term))
                by_key.setdefault(normalizer.compact(term), []).append(entry)
            for term in category.context:
                entry = TermEntry(term, CONTEXT_FEATURE, category.name, 0.0)
                by_key.setdefault(normalizer.compact(term), []).append(entry)
        for family in lexicon.families.values():
            for term in family.terms:
                entry = TermEntry(term, family.name, family.category, family.weight_of(term))
                by_key.setdefault(normalizer.compact(term), []).append(entry)
        self._automaton = ahocorasick.Automaton()
        for key, entries in by_key.items():
            if key:
                self._automaton.add_word(key, (key, tuple(entries)))
        self._automaton.make_automaton()
        self.size = len(by_key)

    def find(self, norm: str) -> list[Hit]:
        """All hits, minus those nested inside a longer hit of the same feature and
        category ("退保" inside "全额退保" says nothing new)."""
        hits: list[Hit] = []
        for end_index, (key, entries) in self._automaton.iter(norm):
            start = end_index - len(key) + 1
            end = end_index + 1
            if key[0] in ASCII_ALNUM and start > 0 and norm[start - 1] in ASCII_ALNUM:
                continue
            if key[-1] in ASCII_ALNUM and end < len(norm) and norm[end] in ASCII_ALNUM:
                continue
            hits.extend(Hit(start, end, entry) for entry in entries)
        if len(hits) < 2:
            return hits
        return _drop_nested(hits)


def _drop_nested(hits: list[Hit]) -> list[Hit]:
    hits.sort(key=lambda h: (h.start, -h.end))
    kept: list[Hit] = []
    reach: dict[tuple[str, str | None], int] = {}
    for hit in hits:
        group = (hit.entry.feature, hit.entry.category)
        if reach.get(group, -1) >= hit.end:
            continue
        kept.append(hit)
        reach[group] = max(reach.get(group, -1), hit.end)
    return kept
