"""Find every lexicon term in normalised text with one Aho-Corasick pass.

Why Aho-Corasick: the lexicon has hundreds of phrases and grows with every review; one
automaton scans a post once, whatever the number of phrases. ahocorasick-rs (a DFA in
Rust) rather than pyahocorasick: on Chinese text the root of the trie has hundreds of
children, and pyahocorasick's per-character transition costs ≈ 2.5x more
(``bench/detect.py`` prints pyahocorasick alone for comparison).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick_rs
import numpy as np

from detectors.lexicon import CONTEXT_FEATURE, SCHEME_FEATURE, Lexicon
from detectors.normalize import ASCII_ALNUM, Normalizer


@dataclass(frozen=True, slots=True)
class TermEntry:
    """One lexicon term as written by the analyst, and what it is evidence of."""

    term: str
    feature: str  # a family name, SCHEME_FEATURE or CONTEXT_FEATURE
    category: str | None  # for scheme / context terms and families that name a category
    weight: float


LOOKALIKE = "lookalike"  # internal: a look-alike phrase (lookalikes.toml), never reported


class Hit(NamedTuple):
    """A term found in ``NormText.norm`` at ``[start, end)``. A tuple, not a frozen
    dataclass: a post makes a handful of these and a frozen dataclass costs ≈ 5x more
    to build."""

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
        for phrase in lexicon.lookalikes:
            entry = TermEntry(phrase, LOOKALIKE, None, 0.0)
            by_key.setdefault(normalizer.compact(phrase), []).append(entry)
        self._values = [(key, tuple(entries)) for key, entries in by_key.items() if key]
        # per key, what ``find`` needs without recomputing it per match: whether each edge
        # is ASCII (then it must not sit inside a longer ASCII word) and its entries
        # and whether one is a look-alike (only then must ``_drop_nested`` look for them)
        self._edges = [
            (k[0] in ASCII_ALNUM, k[-1] in ASCII_ALNUM, e, any(x.feature == LOOKALIKE for x in e))
            for k, e in self._values
        ]
        self._automaton = ahocorasick_rs.AhoCorasick(
            [key for key, _ in self._values], implementation=ahocorasick_rs.Implementation.DFA
        )
        # the screening automaton: only keys that can make a post worth a full look (a
        # scheme term or a positive family), plus the alias keys the normaliser adds
        screen = [
            key
            for key, entries in self._values
            if any(e.weight > 0 or e.feature == SCHEME_FEATURE for e in entries)
        ]
        # an ASCII-edged selling key inside a longer ASCII word ("dd" in "dddd") is no hit
        # for ``find`` either, so it need not make a post busy; an alias key always does
        # (rewriting may create a hit). Edges per key, as in ``_edges``.
        self._screen_edges = [(k[0] in ASCII_ALNUM, k[-1] in ASCII_ALNUM) for k in screen]
        aliases = normalizer.alias_keys()
        screen += aliases
        self._screen_edges += [(False, False)] * len(aliases)
        self._screen = (
            ahocorasick_rs.AhoCorasick(screen, implementation=ahocorasick_rs.Implementation.DFA)
            if screen
            else None
        )
        self.keys = tuple(key for key, _ in self._values)
        self.size = len(by_key)

    def screen(self, text: str) -> list[int]:
        """Start index of keys in ``text`` that may sell something, or of aliases (one
        pass screening a joined batch). Overlapping, so that dropping a selling key that
        sits inside a longer ASCII word (as ``find`` does) never hides another key; the
        batch separator is no ASCII letter, so post edges behave as text edges."""
        if self._screen is None:
            return []
        edges = self._screen_edges
        size = len(text)
        alnum = ASCII_ALNUM
        out = []
        for index, start, end in self._screen.find_matches_as_indexes(text, overlapping=True):
            ascii_start, ascii_end = edges[index]
            if ascii_start and start > 0 and text[start - 1] in alnum:
                continue
            if ascii_end and end < size and text[end] in alnum:
                continue
            out.append(start)
        return out

    def screen_parts(self, text: str, bounds: np.ndarray) -> list[int]:
        """``screen`` of parts joined by a separator, as the indices of the parts with
        a hit (``bounds``: where each part starts, plus one past the end)."""
        starts = self.screen(text)
        if not starts:
            return []
        at = np.searchsorted(bounds, np.array(starts, dtype=np.int64), side="right") - 1
        return np.unique(at).tolist()

    @staticmethod
    def selling(hits: list[Hit]) -> bool:
        """Does any hit sell something (a scheme term or a positive family)?"""
        return any(h.entry.weight > 0 or h.entry.feature == SCHEME_FEATURE for h in hits)

    def find(self, norm: str) -> list[Hit]:
        """All hits, minus those nested inside a longer hit of the same feature and
        category ("退保" inside "全额退保" says nothing new)."""
        hits: list[Hit] = []
        append = hits.append
        edges = self._edges
        size = len(norm)
        new = tuple.__new__
        alnum = ASCII_ALNUM
        looks = False
        for index, start, end in self._automaton.find_matches_as_indexes(norm, overlapping=True):
            ascii_start, ascii_end, entries, look = edges[index]
            if ascii_start and start > 0 and norm[start - 1] in alnum:
                continue
            if ascii_end and end < size and norm[end] in alnum:
                continue
            looks = looks or look
            for entry in entries:
                append(new(Hit, (start, end, entry)))
        if len(hits) < 2:
            return [h for h in hits if h.entry.feature != LOOKALIKE] if looks else hits
        return _drop_nested(hits, looks)


def _order(hit: Hit) -> tuple[int, int]:
    return hit[0], -hit[1]


def _drop_nested(hits: list[Hit], looks: bool = True) -> list[Hit]:
    if looks:
        spans = [(h.start, h.end) for h in hits if h.entry.feature == LOOKALIKE]
        hits = [
            h
            for h in hits
            if h.entry.feature != LOOKALIKE
            and not (h.entry.weight > 0 and any(a <= h.start and h.end <= b for a, b in spans))
        ]
    hits.sort(key=_order)
    kept: list[Hit] = []
    append = kept.append
    reach: dict[tuple[str, str | None], int] = {}
    get = reach.get
    for hit in hits:
        end, entry = hit[1], hit[2]
        group = (entry.feature, entry.category)
        seen = get(group, -1)
        if seen >= end:
            continue
        append(hit)
        reach[group] = end  # > seen, or the hit would have been skipped
    return kept
