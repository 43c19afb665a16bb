"""Undo cheap obfuscation while remembering where every character came from.

Black-market posts dodge keyword filters with full-width letters, traditional characters,
spaces / zero-width characters / emoji between the characters of a word ("全 额 退 保",
"全\u200b额退保") and homophones ("退抱", "威信"). Matching on a normalised copy catches
them; the offset map keeps evidence honest: every span reported indexes the text the
author actually wrote.

Three layers, each cheap:

1. ``folded`` — a length-preserving, per-character fold (``str.translate`` with a lazily
   filled table): NFKC width folding, lower case, traditional → simplified (OpenCC
   ``t2s`` one character at a time, kept only when it stays one character, so indices
   never shift), invisible characters and emoji → space. Same indices as the original, so
   contact extraction runs on it directly.
2. ``norm`` — ``folded`` without punctuation / spaces / symbols, except that a run between
   two ASCII letters or digits becomes one space (``call me`` must not become ``callme``).
3. aliases — homophones rewritten to the canonical word (Aho-Corasick, leftmost-longest).
"""

from __future__ import annotations

import re
import unicodedata

import ahocorasick
import opencc

from detectors.lexicon import ContextualAlias

# After folding, every non-ASCII character that is not a letter or a digit has become a
# space, so "junk" is plain ASCII and the regexes below use byte-sized classes instead of
# Unicode category lookups (≈ 3x faster on CJK text).
_JUNK_CLASS = r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_JUNK = re.compile(_JUNK_CLASS + "+")
_ASCII_GAP = re.compile(r"[a-z0-9]" + _JUNK_CLASS + r"+[a-z0-9]")
_ASCII_GAP_RUN = re.compile(r"(?<=[a-z0-9])" + _JUNK_CLASS + r"+(?=[a-z0-9])")
ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# Non-ASCII characters that never carry meaning inside a word: format (zero-width, BOM),
# marks (variation selectors, combining), symbols (emoji), punctuation, separators,
# controls, private use. They fold to a space; ASCII punctuation is kept because contact
# extraction needs ":" "." "/" "-" "_" "+".
_KEEP_CATEGORY_INITIALS = frozenset("LN")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF


class FoldTable(dict[int, str]):
    """``str.translate`` table computed on first sight of each character.

    Filling lazily keeps start-up fast and memory bounded by the characters actually seen;
    writes are idempotent, so concurrent readers at worst compute an entry twice.
    """

    def __init__(self, char_map: dict[str, str]) -> None:
        super().__init__()
        self._char_map = char_map
        self._t2s = opencc.OpenCC("t2s")

    def __missing__(self, code: int) -> str:
        folded = self._fold(chr(code))
        self[code] = folded
        return folded

    def _fold(self, char: str) -> str:
        if char in self._char_map:
            return self._char_map[char]
        nfkc = unicodedata.normalize("NFKC", char)
        if len(nfkc) == 1:
            char = nfkc
        if char.isascii():
            return self._char_map.get(char, char.lower())
        if unicodedata.category(char)[0] not in _KEEP_CATEGORY_INITIALS:
            return " "
        lower = char.lower()
        if len(lower) == 1:
            char = lower
        if _is_cjk(char):
            simple = self._t2s.convert(char)
            if len(simple) == 1:
                char = simple
        return self._char_map.get(char, char)


class NormText:
    """The three views of one text plus the map from ``norm`` indices to the original.

    The map is built only when a span is asked for: most posts match no term at all, and
    for them the compact form comes from three C-level regex passes."""

    __slots__ = ("_ends", "_starts", "folded", "norm", "original")

    def __init__(
        self,
        original: str,
        folded: str,
        norm: str,
        starts: list[int] | None = None,
        ends: list[int] | None = None,
    ) -> None:
        self.original = original
        self.folded = folded
        self.norm = norm
        self._starts = starts
        # None unless an alias rewrote a span: then each rewritten char covers the alias
        self._ends = ends

    @property
    def starts(self) -> list[int]:
        """Original index of each ``norm`` character."""
        if self._starts is None:
            self._starts = _strip_with_offsets(self.folded)[1]
        return self._starts

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` covering normalised ``[start, end)``."""
        starts = self.starts
        last = self._ends[end - 1] if self._ends is not None else starts[end - 1] + 1
        return starts[start], last


class Normalizer:
    """Builds :class:`NormText` views; one instance per detector, safe to share."""

    def __init__(
        self,
        char_map: dict[str, str],
        aliases: dict[str, str],
        contextual: tuple[ContextualAlias, ...] = (),
    ) -> None:
        self.table = FoldTable(char_map)
        self._aliases = ahocorasick.Automaton()
        entries: dict[str, tuple[str, tuple[str, ...]]] = {}
        for source, target in aliases.items():
            entries[self.compact(source)] = (self.compact(target), ())
        for alias in contextual:
            needed = tuple(self.compact(word) for word in alias.requires_any)
            entries[self.compact(alias.source)] = (self.compact(alias.target), needed)
        for key, (target, needed) in entries.items():
            if key and key != target:
                self._aliases.add_word(key, (key, target, needed))
        self._has_aliases = len(self._aliases) > 0
        if self._has_aliases:
            self._aliases.make_automaton()

    def fold(self, text: str) -> str:
        return text.translate(self.table)

    def compact(self, text: str) -> str:
        """Normalised form of a lexicon entry (no offsets, no aliases)."""
        return strip(self.fold(text))

    def normalize(self, text: str) -> NormText:
        folded = self.fold(text)
        nt = NormText(text, folded, strip(folded))
        if self._has_aliases and nt.norm:
            return self._apply_aliases(nt)
        return nt

    def _apply_aliases(self, nt: NormText) -> NormText:
        norm = nt.norm
        hits = []
        for end_index, (key, target, needed) in self._aliases.iter_long(norm):
            start = end_index - len(key) + 1
            if not _ascii_bounded(norm, start, end_index + 1, key):
                continue
            if needed and not any(word in norm for word in needed):
                continue
            hits.append((start, end_index + 1, target))
        if not hits:
            return nt
        starts = nt.starts
        parts: list[str] = []
        new_starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for a, b, target in hits:
            parts.append(norm[pos:a])
            new_starts.extend(starts[pos:a])
            ends.extend(s + 1 for s in starts[pos:a])
            parts.append(target)
            new_starts.extend([starts[a]] * len(target))
            ends.extend([starts[b - 1] + 1] * len(target))
            pos = b
        parts.append(norm[pos:])
        new_starts.extend(starts[pos:])
        ends.extend(s + 1 for s in starts[pos:])
        joined = "".join(parts)
        if " " in joined:  # "zx xf" → "征信 修复": the space no longer separates ASCII words
            joined, new_starts, ends = _drop_loose_spaces(joined, new_starts, ends)
        return NormText(nt.original, nt.folded, joined, new_starts, ends)


def strip(folded: str) -> str:
    """``folded`` without junk; a junk run between two ASCII alphanumerics becomes one
    space. Same result as :func:`_strip_with_offsets` (a property test checks it), but
    in C: "Z" marks the kept gaps, as upper-case letters never survive folding."""
    if _ASCII_GAP.search(folded) is None:
        return _JUNK.sub("", folded)
    return _JUNK.sub("", _ASCII_GAP_RUN.sub("Z", folded)).replace("Z", " ")


def _strip_with_offsets(folded: str) -> tuple[str, list[int]]:
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    size = len(folded)
    for match in _JUNK.finditer(folded):
        a, b = match.span()
        if a > pos:
            parts.append(folded[pos:a])
            starts.extend(range(pos, a))
        if a > 0 and b < size and folded[a - 1] in ASCII_ALNUM and folded[b] in ASCII_ALNUM:
            parts.append(" ")
            starts.append(a)
        pos = b
    if pos == 0:
        return folded, list(range(size))
    if pos < size:
        parts.append(folded[pos:])
        starts.extend(range(pos, size))
    return "".join(parts), starts


def _ascii_bounded(norm: str, start: int, end: int, key: str) -> bool:
    """An ASCII-edged key ("vx", "tb") must not sit inside a longer ASCII word."""
    if key[0] in ASCII_ALNUM and start > 0 and norm[start - 1] in ASCII_ALNUM:
        return False
    return not (key[-1] in ASCII_ALNUM and end < len(norm) and norm[end] in ASCII_ALNUM)


def _drop_loose_spaces(
    norm: str, starts: list[int], ends: list[int]
) -> tuple[str, list[int], list[int]]:
    keep = [
        i
        for i, ch in enumerate(norm)
        if ch != " "
        or (0 < i < len(norm) - 1 and norm[i - 1] in ASCII_ALNUM and norm[i + 1] in ASCII_ALNUM)
    ]
    return "".join(norm[i] for i in keep), [starts[i] for i in keep], [ends[i] for i in keep]
