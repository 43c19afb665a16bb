"""CJK bigram tokenisation for full-text search, shared by the SQLite and Elasticsearch stores.

Why bigrams (see ``bench/fts.py`` and the figures in ``pipeline.store.sqlite``): Chinese
has no spaces, and the terms investigators search are often two characters (口子, 退保,
下款). Overlapping bigrams index every two-character window, so any term of two or more
characters is found as a phrase of its bigrams, with no dictionary to disagree with the
obfuscated spellings black-market posts use. It is also what Elasticsearch's ``cjk``
analyzer does (``cjk_width`` + ``lowercase`` + ``cjk_bigram``), so both stores answer the
same query alike.

The scheme, applied to indexed text and to queries alike:

- NFKC folds full-width letters and digits to half-width (ｖｘ → vx) and half-width
  katakana to full-width; then lower-case.
- A run of CJK characters becomes its overlapping bigrams (全额退保 → 全额 额退 退保);
  a one-character run stays a single token.
- A run of other letters/digits is one token (``vx123``); everything else separates.

The output is a space-joined token string for an FTS5 table using the ``unicode61``
tokenizer, which then sees each bigram as one token. User text never reaches FTS5 syntax:
:func:`match_expression` quotes every token it emits as an FTS5 string.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from operator import add

# Han (unified, extension A, compatibility, extensions B-F), the iteration marks 々〇,
# hiragana, katakana (without the ・ separator) and hangul syllables: the scripts
# Elasticsearch's cjk_bigram filter pairs up.
_CJK = (
    "\u3005\u3007"
    "\u3041-\u3096\u309d-\u309f"
    "\u30a1-\u30fa\u30fc-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uac00-\ud7af"
    "\U00020000-\U0002ebef"
)
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+)")

# Bump when the scheme changes: the SQLite store rebuilds its index when the version it
# recorded differs, because a contentless FTS5 index can only delete the tokens it was given.
TOKENIZER_VERSION = "cjk-bigram-1"


def fold(text: str) -> str:
    """Width- and case-fold (NFKC, then lower case): what indexing, highlighting and the
    Elasticsearch documents' ``search_text`` compare. Every post is folded on its way
    into either store, so it is computed the cheap way:

    CPython's NFKC takes its slow path for a whole text as soon as one character changes,
    and most posts hold one (full-width ``！，：``): ~15-25 µs per post. Replacing a
    character by its own NFKC leaves the text's NFKD, hence its NFKC, unchanged, so the
    changing characters are mapped one by one and the quick ``is_normalized`` check
    confirms the result; a text it rejects (characters that compose with a neighbour,
    or changing ones outside the map) still goes through the full ``normalize``.
    """
    if text.isascii():  # NFKC leaves ASCII as it is
        return text.lower()
    pattern, mapped = _nfkc_changes()
    folded = text
    for char in set(pattern.findall(text)):  # a few distinct ones: replace is cheaper
        folded = folded.replace(char, mapped[char])
    if not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)
    return folded.lower()


@functools.cache
def _nfkc_changes() -> tuple[re.Pattern[str], dict[str, str]]:
    """A pattern matching the BMP characters that NFKC changes, and their NFKC
    (built once per process, ~25 ms; astral ones are left to the fallback)."""
    mapped: dict[str, str] = {}
    for code in range(0x10000):
        if 0xD800 <= code < 0xE000:  # surrogates
            continue
        char = chr(code)
        if not unicodedata.is_normalized("NFKC", char):
            mapped[char] = unicodedata.normalize("NFKC", char)
    return re.compile("[" + "".join(re.escape(c) for c in mapped) + "]"), mapped


def _runs(text: str) -> list[tuple[str, bool]]:
    """``(run, is_cjk)`` for each searchable run of the folded text, in order."""
    return [(m.group(), m.lastgroup == "cjk") for m in _TOKEN.finditer(fold(text))]


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return list(map(add, run, run[1:]))


def index_tokens(text: str) -> list[str]:
    """The tokens one text is indexed under, in position order.

    Every post goes through here on its way into the SQLite store, so the loop is the
    cheap form: groups straight from ``findall`` and pairs by C-level ``map`` (~20% less
    than a match object and a slice per bigram, on bench/detect.py's mix)."""
    tokens: list[str] = []
    for cjk, word in _TOKEN.findall(fold(text)):
        if len(cjk) > 1:
            tokens.extend(map(add, cjk, cjk[1:]))
        else:
            tokens.append(cjk or word)
    return tokens


def index_text(text: str) -> str:
    """The token string stored in the FTS5 column (space-separated tokens)."""
    return " ".join(index_tokens(text))


def query_terms(q: str) -> list[str]:
    """The folded terms of a user query (CJK runs and words), de-duplicated, in order.

    Every term must occur for a post to match; the highlighter marks these same terms.
    """
    return list(_query_runs(q))


def _query_runs(q: str) -> dict[str, bool]:
    seen: dict[str, bool] = {}
    for run, is_cjk in _runs(q):
        seen.setdefault(run, is_cjk)
    return seen


def quote(token: str) -> str:
    """An FTS5 string literal: the only form in which our text enters a MATCH."""
    return '"' + token.replace('"', '""') + '"'


def match_expression(q: str) -> str | None:
    """An FTS5 MATCH expression for a user query, or None when it has no searchable term.

    Each CJK term becomes a phrase of its bigrams (``"全额" + "额退" + "退保"``), each word a
    one-token phrase, and the phrases are AND-ed. A one-character CJK term is a prefix
    query (``"保"*``) so it also finds the bigrams that start with it; a character that only
    ends a CJK run is not found (Elasticsearch's ``cjk`` analyzer has the same blind spot).
    """
    phrases: list[str] = []
    for term, is_cjk in _query_runs(q).items():
        if is_cjk:
            if len(term) == 1:
                phrases.append(quote(term) + "*")
            else:
                phrases.append(" + ".join(quote(t) for t in _bigrams(term)))
        else:
            phrases.append(quote(term))
    return " AND ".join(phrases) or None
