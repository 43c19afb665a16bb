"""Undo cheap obfuscation while remembering where every character came from.

Black-market posts dodge keyword filters with full-width letters, traditional characters,
spaces / zero-width characters / emoji between the characters of a word ("全 额 退 保",
"全\u200b额退保") and homophones ("退抱", "威信"). Matching on a normalised copy catches
them; the offset map keeps evidence honest: every span reported indexes the text the
author actually wrote.

Three layers, each cheap (no per-character Python loop on the way to a match):

1. ``folded`` — a length-preserving, per-character fold with ONE table precomputed per
   process for every BMP character and the emoji planes: NFKC width folding, lower case,
   traditional → simplified (OpenCC ``t2s`` one character at a time, kept only when it
   stays one character, so indices never shift), invisible characters, emoji and
   separators → space, plus the lexicon's single-character map (🈶 → 有, ➕ → 加, 丨 → space).
   One ``str.translate`` per post, or one vectorised lookup per batch (``fold_many``).
   Same indices as the original, so contact extraction runs on it directly. Numerals and
   look-alike letters are NOT folded here: that is the contact extractor's own
   normaliser, applied only inside contact runs ("一次性" stays "一次性").
2. ``norm`` — ``folded`` without punctuation / spaces / symbols, except that a run between
   two ASCII letters or digits becomes one space (``call me`` must not become ``callme``):
   two regex passes per post, or one numpy pass per batch (``strip_many``).
3. aliases — homophones, radical splits ("彳正信"), pinyin ("tui bao") and, near other
   cues, pinyin initials ("tb", "tx gz") rewritten to the canonical word (Aho-Corasick,
   leftmost-longest). The pinyin view is derived once at construction with pypinyin
   (``pinyin_aliases``), never per post.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import ahocorasick_rs
import numpy as np
import opencc
from pypinyin import lazy_pinyin

from detectors.lexicon import ContextualAlias, PinyinConfig

# After folding, every non-ASCII character that is not a letter or a digit has become a
# space, so "junk" is plain ASCII and the regexes below use byte-sized classes instead of
# Unicode category lookups (≈ 3x faster on CJK text).
_JUNK_CLASS = r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_JUNK = re.compile(_JUNK_CLASS + "+")
_JUNK_CHARS = frozenset(
    chr(c) for c in (*range(0x00, 0x30), *range(0x3A, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x80))
)
_BATCH_MIN = 8  # below this, per-post translate is as fast as the vectorised fold
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


@functools.lru_cache(maxsize=4)
def _base_table() -> dict[int, str]:
    """The fold of every BMP character and the emoji planes, computed once per process.

    A plain dict: ``str.translate`` looks each character up in C; a ``__missing__``
    subclass costs ≈ 60% more per post. Characters outside the precomputed ranges (rare
    CJK extensions) are left as they are, which is what the fold would do anyway."""
    t2s = opencc.OpenCC("t2s")
    table: dict[int, str] = {}
    for code in (*range(0x10000), *range(0x1F000, 0x1FC00), *range(0xE0000, 0xE0080)):
        table[code] = _fold_char(chr(code), t2s)
    return table


def _fold_char(char: str, t2s: opencc.OpenCC) -> str:
    nfkc = unicodedata.normalize("NFKC", char)
    if len(nfkc) == 1:
        char = nfkc
    if char.isascii():
        return char.lower()
    if unicodedata.category(char)[0] not in _KEEP_CATEGORY_INITIALS:
        return " "
    lower = char.lower()
    if len(lower) == 1:
        char = lower
    if _is_cjk(char):
        simple = t2s.convert(char)
        if len(simple) == 1:
            char = simple
    return char


class FoldTable(dict[int, str]):
    """The one ``str.translate`` table: width, case, traditional → simplified, invisible
    characters and emoji → space, plus the lexicon's single-character map (emoji words
    such as 🈶 → 有, ➕ → 加). Length-preserving, so indices never shift."""

    def __init__(self, char_map: dict[str, str]) -> None:
        super().__init__(_base_table())
        for source, target in char_map.items():
            if len(source) == 1 and len(target) == 1:
                self[ord(source)] = target
        # a folded character that the map rewrites is rewritten too ("Ｖ" → "v" → …)
        for code, folded in list(self.items()):
            if folded in char_map and len(char_map[folded]) == 1:
                self[code] = char_map[folded]


@functools.lru_cache(maxsize=1)
def _homophone_index() -> dict[str, tuple[str, ...]]:
    """Toneless pinyin → the characters of GB2312 read that way (6,763 characters: what
    people can type). Rarer characters are left out: a homophone alias is only worth
    having if people actually write it."""
    index: dict[str, list[str]] = {}
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                char = bytes((hi, lo)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            index.setdefault(lazy_pinyin(char)[0], []).append(char)
    return {k: tuple(v) for k, v in index.items()}


def pinyin_aliases(config: PinyinConfig) -> dict[str, str]:
    """The pinyin view as aliases, computed once at construction (never per post):

    - every ``full`` word written in full pinyin, joined or spaced ("tuibao", "tui bao");
    - every ``homophones`` word with one character swapped for a common character of the
      same toneless reading ("退抱", "征芯"), minus ``exclude`` (ordinary words such as
      "私心").
    Keys go through the same normalisation as posts (see ``Normalizer``)."""
    out: dict[str, str] = {}
    for word in config.full:
        syllables = lazy_pinyin(word)
        if all(s.isascii() and s.isalpha() for s in syllables):
            out.setdefault("".join(syllables), word)
            out.setdefault(" ".join(syllables), word)
    index = _homophone_index()
    excluded = set(config.exclude)
    for word in config.homophones:
        for i, syllable in enumerate(lazy_pinyin(word)):
            for char in index.get(syllable, ()):
                variant = word[:i] + char + word[i + 1 :]
                if variant != word and variant not in excluded:
                    out.setdefault(variant, word)
    return out


class BatchStarts:
    """The ``starts`` maps of a stripped batch, cut out per post only when asked (most
    posts of a batch never need theirs)."""

    __slots__ = ("_folded_at", "_norm_at", "_positions")

    def __init__(
        self,
        positions: np.ndarray,
        folded: list[str],
        norms: list[str],
        folded_at: Sequence[int] | None = None,
        norm_at: Sequence[int] | None = None,
    ) -> None:
        self._positions = positions
        # where each post starts in the folded and the compact join (plus the end)
        self._folded_at = _offsets(map(len, folded)) if folded_at is None else folded_at
        self._norm_at = _offsets(map(len, norms)) if norm_at is None else norm_at

    def __getitem__(self, i: int) -> list[int]:
        a, b = self._norm_at[i], self._norm_at[i + 1] - 1
        return (self._positions[a:b] - self._folded_at[i]).tolist()


def _offsets(lengths: Iterable[int]) -> list[int]:
    """Where each part starts in the parts joined by a one-character separator (plus
    the end of the join, one past)."""
    return list(itertools.accumulate(map((1).__add__, lengths), initial=0))


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
        starts: list[int] | Callable[[], list[int]] | None = None,
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
        elif callable(self._starts):  # cut from a batch's map on first use
            self._starts = self._starts()
        return self._starts

    def span_map(self) -> tuple[list[int], list[int] | None]:
        """``starts`` and the alias ``ends`` (None: each character ends one past its
        start), for callers mapping many spans of one text (see :meth:`span`)."""
        return self.starts, self._ends

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
        pinyin: PinyinConfig | None = None,
    ) -> None:
        self.table = FoldTable(char_map)
        # the same table as an array indexed by code point, for batches (fold_many)
        self._codes = np.arange(0x110000, dtype=np.uint32)
        for code, folded in self.table.items():
            self._codes[code] = ord(folded)
        entries: dict[str, tuple[str, tuple[str, ...]]] = {}
        generated = pinyin_aliases(pinyin) if pinyin else {}
        for source, target in [*generated.items(), *aliases.items()]:
            entries[self.compact(source)] = (self.compact(target), ())
        for alias in contextual:
            needed = tuple(self.compact(word) for word in alias.requires_any)
            entries[self.compact(alias.source)] = (self.compact(alias.target), needed)
        self._alias_values: list[tuple[str, str, tuple[str, ...]]] = []
        for key, (target, needed) in entries.items():
            # a key that normalises to one character ("微❤" → "微") would rewrite words
            if len(key) > 1 and key != target:
                self._alias_values.append((key, target, needed))
        self._has_aliases = bool(self._alias_values)
        # leftmost-longest, non-overlapping: "退保费" is rewritten once, not twice
        self._aliases = ahocorasick_rs.AhoCorasick(
            [key for key, _, _ in self._alias_values] or ["\ue000"],
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.DFA,
        )

    def alias_keys(self) -> list[str]:
        """Every alias key as matched on ``norm`` (for the batch screening automaton)."""
        return [key for key, _, _ in self._alias_values]

    def fold(self, text: str) -> str:
        return text.translate(self.table)

    def fold_many(self, texts: list[str]) -> list[str]:
        """``fold`` for a batch, in one vectorised table lookup: ``str.translate`` costs
        ≈ 0.2 µs per character (a dict lookup each), the lookup below ≈ 0.02 µs once the
        batch is joined. The fold is one code point to one code point, so the joined
        result is cut back at the same lengths."""
        if len(texts) < _BATCH_MIN:
            return [t.translate(self.table) for t in texts]
        joined = "".join(texts)
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
        folded = self._codes[codes].tobytes().decode("utf-32-le", "surrogatepass")
        ends = list(itertools.accumulate(map(len, texts)))
        return [folded[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def strip_many(self, folded: list[str], sep: str) -> tuple[list[str], BatchStarts]:
        """``strip`` (and each post's ``starts`` map) for folded posts joined by ``sep``
        (a character that is neither junk nor ASCII), vectorised: one numpy pass over the
        batch instead of two regex passes and a Python loop per post. Same result as
        :func:`_strip_with_offsets` post by post (a property test checks it)."""
        if not folded:
            return [], BatchStarts(np.zeros(0, dtype=np.intp), [], [])
        joined = sep.join(folded)
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
        norms, starts, _, _ = _strip_codes(codes, folded, sep)
        return norms, starts

    def fold_strip_many(self, parts: list[str], texts: int, sep: str) -> BatchView | None:
        """``fold_many`` of every part and ``strip_many`` of the first ``texts`` parts,
        fused: the batch is joined, encoded and looked up once, and the folded join
        (with its code points, for the contact pre-check) is kept for the caller. None
        when ``sep`` occurs inside a part (it cannot cut the batch back then)."""
        if not parts:
            raise ValueError("fold_strip_many needs at least one part")
        joined = sep.join(parts)
        if joined.count(sep) != len(parts) - 1:
            return None
        bounds = np.fromiter(_offsets(map(len, parts)), np.int64, len(parts) + 1)
        codes = self._codes[np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)]
        codes[bounds[1:-1] - 1] = ord(sep)  # the separator folds to a space: put it back
        folded_joined = codes.tobytes().decode("utf-32-le", "surrogatepass")
        folded = folded_joined.split(sep)
        if texts:
            norms, starts, compact, norm_at = _strip_codes(
                codes[: bounds[texts] - 1], folded[:texts], sep, bounds
            )
        else:
            norms, starts, compact = [], BatchStarts(np.zeros(0, dtype=np.intp), [], []), ""
            norm_at = np.zeros(1, dtype=np.int64)
        return BatchView(folded, folded_joined, codes, bounds, norms, compact, norm_at, starts)

    def normalize_many(self, texts: list[str]) -> list[NormText]:
        """``normalize`` for a batch (see :meth:`fold_many`): same result, post by post."""
        return [self.normalize(t, f) for t, f in zip(texts, self.fold_many(texts), strict=True)]

    def compact(self, text: str) -> str:
        """Normalised form of a lexicon entry (no offsets, no aliases)."""
        return strip(self.fold(text))

    def normalize(
        self,
        text: str,
        folded: str | None = None,
        norm: str | None = None,
        starts: list[int] | Callable[[], list[int]] | None = None,
    ) -> NormText:
        """The views of ``text``; ``folded`` (and ``norm`` with its ``starts``) when the
        caller already computed them for a batch."""
        if folded is None:
            folded = self.fold(text)
        nt = NormText(text, folded, strip(folded) if norm is None else norm, starts)
        if self._has_aliases and nt.norm:
            return self._apply_aliases(nt)
        return nt

    def _apply_aliases(self, nt: NormText) -> NormText:
        norm = nt.norm
        hits = []
        values = self._alias_values
        for index, start, end in self._aliases.find_matches_as_indexes(norm):
            key, target, needed = values[index]
            end_index = end - 1
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
            ends.extend(map(_plus_one, starts[pos:a]))
            parts.append(target)
            new_starts.extend([starts[a]] * len(target))
            ends.extend([starts[b - 1] + 1] * len(target))
            pos = b
        parts.append(norm[pos:])
        new_starts.extend(starts[pos:])
        ends.extend(map(_plus_one, starts[pos:]))
        joined = "".join(parts)
        if " " in joined:  # "zx xf" → "征信 修复": the space no longer separates ASCII words
            joined, new_starts, ends = _drop_loose_spaces(joined, new_starts, ends)
        return NormText(nt.original, nt.folded, joined, new_starts, ends)


class BatchView(NamedTuple):
    """What ``Normalizer.fold_strip_many`` computed for a batch of parts."""

    folded: list[str]  # every part, folded
    folded_joined: str  # the folded parts joined by the separator
    codes: np.ndarray  # its code points
    bounds: np.ndarray  # where each part starts in the join, plus one past the end
    norms: list[str]  # the texts' compact forms
    compact: str  # the norms joined by the separator
    norm_bounds: np.ndarray  # where each norm starts in ``compact``, plus one past the end
    starts: BatchStarts  # each text's ``starts`` map, cut out on demand


def _strip_codes(
    codes: np.ndarray, folded: list[str], sep: str, folded_at: np.ndarray | None = None
) -> tuple[list[str], BatchStarts, str, np.ndarray]:
    """``strip_many`` on the code points of the folded posts joined by ``sep``; also
    returns the compact forms joined by ``sep`` and where each starts in that join
    (plus one past the end). ``folded_at``: where each post starts in ``codes``, when
    the caller has it.

    Junk is found with range comparisons (SIMD in numpy) rather than a table lookup, and
    a junk run is kept as one space when the characters just before its first and just
    after its last character are ASCII letters or digits."""
    c = codes
    junk = (c <= 0x2F) | ((c >= 0x3A) & (c <= 0x40)) | ((c >= 0x5B) & (c <= 0x60))
    junk |= (c >= 0x7B) & (c <= 0x7F)
    keep = ~junk
    size = len(c)
    if size and junk.any():
        edge = np.zeros(size + 1, dtype=bool)
        np.not_equal(junk[1:], junk[:-1], out=edge[1:-1])
        edge[0], edge[-1] = junk[0], junk[-1]
        # the runs' first characters and the characters just after them, in pairs
        bounds = np.flatnonzero(edge)
        first, after = bounds[0::2], bounds[1::2]
        inner = (first > 0) & (after < size)
        first, after = first[inner], after[inner]
        if len(first):
            before, next_ = c[first - 1], c[after]
            gap = _alnum(before) & _alnum(next_)
            kept_gaps = first[gap]
            if len(kept_gaps):
                keep[kept_gaps] = True
                c = c.copy()
                c[kept_gaps] = 32
    positions = np.flatnonzero(keep)
    kept = c[positions]
    compact = kept.tobytes().decode("utf-32-le", "surrogatepass")
    norms = compact.split(sep)
    norm_at = np.concatenate(([0], np.flatnonzero(kept == ord(sep)) + 1, [len(kept) + 1]))
    return norms, BatchStarts(positions, folded, norms, folded_at, norm_at), compact, norm_at


def _alnum(c: np.ndarray) -> np.ndarray:
    """ASCII lower-case letters and digits (what survives folding of ``[A-Za-z0-9]``)."""
    return ((c >= 0x30) & (c <= 0x39)) | ((c >= 0x61) & (c <= 0x7A))


_plus_one = (1).__add__  # a C-level "s + 1" for map(): no Python frame per character


def strip(folded: str) -> str:
    """``folded`` without junk; a junk run between two ASCII alphanumerics becomes one
    space. Same result as :func:`_strip_with_offsets` (a property test checks it), but
    in C: "Z" marks the kept gaps, as upper-case letters never survive folding."""
    if _ASCII_GAP.search(folded) is None:
        return _JUNK.sub("", folded)
    return _JUNK.sub("", _ASCII_GAP_RUN.sub("Z", folded)).replace("Z", " ")


def _strip_with_offsets(folded: str) -> tuple[str, list[int]]:
    if _ASCII_GAP.search(folded) is None:
        # no kept gap: the kept characters are exactly the non-junk ones (one C-speed
        # comprehension, no per-run bookkeeping)
        starts = [i for i, ch in enumerate(folded) if ch not in _JUNK_CHARS]
        return "".join([folded[i] for i in starts]), starts
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
    return "".join([norm[i] for i in keep]), [starts[i] for i in keep], [ends[i] for i in keep]
