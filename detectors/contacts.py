"""Extract private contacts (WeChat, QQ, mobile, links) and official channels.

Why this matters more than any keyword: the black market needs victims to reach it
privately, so a post with a scheme word AND a private contact is an ad, while the same
words without one are usually a complaint, a warning or news. And the same WeChat id
across accounts is how rings are found, so each contact gets one canonical key however
it was written ("TuiBao8866", "tui_bao 8866", "ｔｕｉｂａｏ８８６６" → ``wechat:tuibao8866``).

Runs on ``NormText.folded`` (width-folded, lower case, same indices as the original), so
spans index the original text without any mapping. This module is the separate contact
normaliser: spelled digits ("幺五二…", "壹贰", "①⑴⒈❶", "O") are folded only inside a
candidate run that becomes a valid mobile / QQ number, never globally ("一次性" stays
"一次性"), and Cyrillic / Greek look-alike letters ("хiаоlin") are folded to Latin only
in the view this module searches. A cheap pre-check (``candidate``) skips posts that
cannot hold a contact, and ``split_phone`` joins a mobile split between post and bio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from detectors.lexicon import ContactConfig
from pipeline.models import Contact

ContactKind = Literal["wechat", "qq", "phone", "link"]
KIND_LABELS_ZH = {"wechat": "微信", "qq": "QQ", "phone": "手机", "link": "链接"}

_PHONE_SEP = r"[\s\-–—_.·•*/|~]"
_MOBILE = re.compile(r"1[3-9]\d{9}")
_QQ = re.compile(r"[1-9]\d{4,10}")
_ID_SEPARATORS = re.compile(r"[^a-z0-9]")
_LINK_TRAILING = ".,;:!?)]}'\""
_ASCII_STOPS = ("tel", "phone", "call", "id", "dd", "q", "v")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_NUMBER_GLUE = frozenset("0123456789-")
_CUE_GAP = r"[\s,.*~|/\-]{0,2}"
_MIN_PLAIN_ID = 6  # a shorter id after a cue counts only with a digit in it ("tb123")
# the two halves of a split mobile: the last four digits in the post, the first seven
# (a run of exactly seven digits starting 1[3-9]) in the bio
_TAIL_DIGITS = re.compile(
    r"(?:后四位|后4位|尾号|前七位\s*\+|前7位\s*\+)[^0-9]{0,6}([0-9]{4})(?![0-9])"
)
_HEAD_DIGITS = re.compile(r"(?<![0-9])(1[3-9][0-9]{5})(?![0-9])")


@dataclass(frozen=True, slots=True)
class OfficialHit:
    """An official number or domain: evidence of ``official_channel``, not a contact."""

    start: int
    end: int


def _cue_pattern(cues: tuple[str, ...], spaced: tuple[str, ...]) -> str:
    """Cues longest first; a weak cue needs a colon or a space before the id.

    No look-behind guards here: a pattern that starts with plain literals lets the regex
    engine skip ahead to candidate characters (measured ≈ 15x faster on a 100-character
    post); ``_glued`` applies the guard to the few matches instead."""
    parts = [_spread(cue) for cue in sorted(cues, key=len, reverse=True)]
    parts += [_spread(cue) + r"(?=\s*:|\s)" for cue in sorted(spaced, key=len, reverse=True)]
    return "(?:" + "|".join(parts) + ")"


def _spread(cue: str) -> str:
    """A Chinese cue may have separators inside ("微 信", "微✨信" folds to "微 信")."""
    if cue.isascii() or len(cue) < 2:
        return re.escape(cue)
    return _CUE_GAP.join(re.escape(ch) for ch in cue)


def _glued(folded: str, start: int) -> bool:
    """An ASCII cue glued to a longer word ("nov: ..." is not "v:") is no cue."""
    return start > 0 and folded[start] in _ASCII_ALNUM and folded[start - 1] in _ASCII_ALNUM


class ContactExtractor:
    def __init__(self, config: ContactConfig, homoglyphs: dict[str, str] | None = None) -> None:
        spelled = "".join(re.escape(ch) for ch in config.spelled_digits)
        digit = f"[0-9{spelled}]"
        self._digit_chars = frozenset("0123456789" + "".join(config.spelled_digits))
        self._fold_digits = str.maketrans(config.spelled_digits)
        ones = "".join(re.escape(k) for k, v in config.spelled_digits.items() if v == "1")
        # the separate contact normaliser: look-alike letters fold to Latin only here
        glyphs = homoglyphs or {}
        self._glyphs = str.maketrans(glyphs) if glyphs else None
        self._has_glyph = (
            re.compile("[" + "".join(re.escape(g) for g in glyphs) + "]") if glyphs else None
        )
        glue = r"(?:我|号码|号|id|账号|群号|群)?[\s:=是为]{0,4}"
        # an id may be split by spaces or dots ("tui bao 8866") but a space never
        # swallows the next cue ("tuibao8866 qq 12345")
        stops = sorted(
            {c for c in (*config.wechat_cues, *config.qq_cues, *_ASCII_STOPS) if c.isascii()},
            key=len,
            reverse=True,
        )
        split = r"(?:\.|\s(?!(?:" + "|".join(map(re.escape, stops)) + r")(?![a-z0-9])))"
        self._wechat = re.compile(
            _cue_pattern(config.wechat_cues, config.wechat_spaced_cues)
            + glue
            + rf"([a-z](?:{split}?[-_a-z0-9]){{3,19}})(?![-_a-z0-9])"
        )
        self._qq = re.compile(
            _cue_pattern(config.qq_cues, config.qq_spaced_cues)
            + glue
            + f"({digit}(?:[\\s\\-]?{digit}){{4,10}})(?![0-9])"
        )
        self._bare_id = (
            re.compile(r"(?<![-_a-z0-9.@/])([a-z][-_a-z0-9]{5,19})(?![-_a-z0-9.@/])")
            if config.bio_bare_ids
            else None
        )
        self._underscore_id = (
            re.compile(r"(?<![-_a-z0-9.@/#])([a-z][a-z0-9]*_[-_a-z0-9]{2,18})(?![-_a-z0-9.@/])")
            if config.text_underscore_ids
            else None
        )
        self._phone = re.compile(
            rf"[1{ones}](?:{_PHONE_SEP}{{0,3}}{digit}){{10}}(?!{digit})(?!{_PHONE_SEP}[0-9])"
        )
        hosts = "|".join(re.escape(h) for h in sorted(config.short_hosts, key=len, reverse=True))
        self._link = re.compile(
            r"(?:https?://|www\.)[a-z0-9\-._~:/?#@!$&'*+,;=%]+" + rf"|(?:{hosts})/[a-z0-9]+"
        )
        self._official_domains = tuple(d.lower() for d in config.official_domains)
        numbers = "|".join(
            re.escape(n) for n in sorted(config.official_numbers, key=len, reverse=True)
        )
        patterns = "|".join(config.official_patterns)
        self._official = re.compile(rf"(?:{numbers}|{patterns})(?![0-9])")
        # the pre-check: every contact or official number holds a run of four ASCII
        # letters / digits (look-alike letters count), a run of five digits however
        # spelled ("幺五八零二", "①⑦④⓪⑦"), or is a short official number ("110")
        spelled_all = "".join(re.escape(ch) for ch in config.spelled_digits)
        letters = "a-z0-9" + "".join(re.escape(g) for g in glyphs)
        short = [n for n in config.official_numbers if len(n) < 5]
        self._candidate = re.compile(
            rf"[{letters}][-_{letters}]{{3}}"
            rf"|[0-9{spelled_all}](?:{_PHONE_SEP}{{0,3}}[0-9{spelled_all}]){{4}}"
            + "".join(f"|{re.escape(n)}" for n in short)
        )
        self._classes = CandidateClasses(
            "abcdefghijklmnopqrstuvwxyz0123456789" + "".join(glyphs),
            "0123456789" + "".join(config.spelled_digits),
            short,
        )

    def candidate_starts(self, folded: str) -> list[int]:
        """Start of every contact candidate in ``folded`` (screening a joined batch)."""
        return [m.start() for m in self._candidate.finditer(folded)]

    def candidate_parts(self, codes: np.ndarray, joined: str, bounds: np.ndarray) -> list[int]:
        """Which parts of a batch could hold a contact: the parts ``candidate`` is true
        for, where ``joined`` is the folded parts joined by a separator that is in no
        class (no letter, digit or phone separator), ``codes`` its code points and
        ``bounds`` where each part starts (plus one past the end). Why: ``candidate``'s
        regex costs ≈ 300 instructions per character (two large character classes tried
        at every position), and every post of the stream is screened; the same test on
        the batch's code points in numpy costs ≈ 15 (a test checks they agree)."""
        return self._classes.parts(codes, joined, bounds)

    def candidate(self, folded: str) -> bool:
        """Could ``folded`` hold a contact or an official number at all? One regex search,
        so the common post (chatter in Chinese) skips every extraction pass."""
        return self._candidate.search(folded) is not None

    def split_phone(self, folded: str, bio_folded: str, bio: str) -> Contact | None:
        """A mobile split between the bio and the post ("电话前七位在简介，后四位是2898"
        with "1984102" in the bio): one contact, in the bio, with the full number as key."""
        tail = _TAIL_DIGITS.search(folded)
        if tail is None:
            return None
        head = _HEAD_DIGITS.search(bio_folded)
        if head is None:
            return None
        number = head.group(1) + tail.group(1)
        if not _MOBILE.fullmatch(number):
            return None
        return Contact(
            kind="phone",
            value=bio[head.start(1) : head.end(1)],
            start=head.start(1),
            end=head.end(1),
            canonical=f"phone:{number}",
            in_bio=True,
        )

    def has_contact(self, folded: str) -> bool:
        """``bool(extract(text, folded)[0])`` for a post (not a bio), without building
        anything: the batch path asks this of every post whose only signal is an ASCII
        or digit run, and most have no contact. Mirrors ``extract`` kind by kind: the
        first valid match of any kind would be kept there (nothing is taken yet)."""
        if self._has_glyph is not None and self._has_glyph.search(folded):
            folded = folded.translate(self._glyphs)  # type: ignore[arg-type]
        for m in self._wechat.finditer(folded):
            key = _ID_SEPARATORS.sub("", m.group(1))
            short = len(key) < _MIN_PLAIN_ID and not any(ch.isdigit() for ch in key)
            if not short and not _glued(folded, m.start()):
                return True
        for m in self._qq.finditer(folded):
            digits = _only_digits(m.group(1).translate(self._fold_digits))
            if not _glued(folded, m.start()) and _QQ.fullmatch(digits):
                return True
        for m in self._phone.finditer(folded):
            digits = _only_digits(m.group().translate(self._fold_digits))
            if _MOBILE.fullmatch(digits) and self._phone_starts_here(folded, m.start()):
                return True
        if (
            self._underscore_id is not None
            and "_" in folded
            and self._underscore_id.search(folded) is not None
        ):
            return True
        if "." in folded or "/" in folded:
            for m in self._link.finditer(folded):
                start, end = m.start(), m.end()
                if start > 0 and folded[start - 1] in _HOST_CHARS:
                    continue
                while end > start and folded[end - 1] in _LINK_TRAILING:
                    end -= 1
                if not self._is_official(folded[start:end]):
                    return True
        return False

    def extract(
        self, original: str, folded: str, bio: bool = False
    ) -> tuple[list[Contact], list[OfficialHit]]:
        """Contacts in text order; later kinds never overlap earlier ones. In a ``bio``,
        bare ids count too ("📮 vivi_licai88")."""
        if self._has_glyph is not None and self._has_glyph.search(folded):
            folded = folded.translate(self._glyphs)  # type: ignore[arg-type]
        found: list[Contact] = []
        taken: list[tuple[int, int]] = []

        def add(kind: ContactKind, start: int, end: int, canonical: str) -> None:
            if any(start < b and a < end for a, b in taken):
                return
            taken.append((start, end))
            found.append(
                Contact(
                    kind=kind,
                    value=original[start:end],
                    start=start,
                    end=end,
                    canonical=f"{kind}:{canonical}",
                )
            )

        for m in self._wechat.finditer(folded):
            key = _ID_SEPARATORS.sub("", m.group(1))
            short = len(key) < _MIN_PLAIN_ID and not any(ch.isdigit() for ch in key)
            if not short and not _glued(folded, m.start()):
                add("wechat", m.start(1), m.end(1), key)
        for m in self._qq.finditer(folded):
            digits = _only_digits(m.group(1).translate(self._fold_digits))
            if not _glued(folded, m.start()) and _QQ.fullmatch(digits):
                add("qq", m.start(1), m.end(1), digits)
        for m in self._phone.finditer(folded):
            digits = _only_digits(m.group().translate(self._fold_digits))
            if _MOBILE.fullmatch(digits) and self._phone_starts_here(folded, m.start()):
                add("phone", m.start(), m.end(), digits)
        if not bio and self._underscore_id is not None and "_" in folded:
            for m in self._underscore_id.finditer(folded):
                add("wechat", m.start(1), m.end(1), _ID_SEPARATORS.sub("", m.group(1)))
        if bio and self._bare_id is not None:
            for m in self._bare_id.finditer(folded):
                raw = m.group(1)
                if any(ch.isdigit() or ch == "_" for ch in raw):
                    add("wechat", m.start(1), m.end(1), _ID_SEPARATORS.sub("", raw))
        official: list[OfficialHit] = []
        links = self._link.finditer(folded) if "." in folded or "/" in folded else ()
        for m in links:
            start, end = m.start(), m.end()
            if start > 0 and folded[start - 1] in _HOST_CHARS:
                continue
            while end > start and folded[end - 1] in _LINK_TRAILING:
                end -= 1
            link = folded[start:end]
            if self._is_official(link):
                official.append(OfficialHit(start, end))
            else:
                add("link", start, end, _canonical_link(link))
        for m in self._official.finditer(folded):
            a, b = m.span()
            if a > 0 and folded[a - 1] in _NUMBER_GLUE:
                continue
            if not any(a < y and x < b for x, y in taken):
                official.append(OfficialHit(a, b))
        found.sort(key=lambda c: c.start)
        return found, official

    def _phone_starts_here(self, folded: str, start: int) -> bool:
        """Not the tail of a longer number, except after a country code ("+86 152…")."""
        if start == 0:
            return True
        before = folded[max(0, start - 4) : start].rstrip(" -")
        if before.endswith("86") and (len(before) < 3 or not before[-3].isdigit()):
            return True
        prev = folded[start - 1]
        if prev in self._digit_chars:
            return False
        return not (prev in "-–—" and start > 1 and folded[start - 2].isdigit())

    def _is_official(self, link: str) -> bool:
        host = _host(link)
        return any(host == d or host.endswith("." + d) for d in self._official_domains)


_LETTER, _JOIN, _DIGIT, _GAP = 1, 2, 4, 8  # character classes of the candidate test
_GAP_CHARS = re.compile(_PHONE_SEP)


class CandidateClasses:
    """``ContactExtractor.candidate`` for a whole batch at once, in numpy.

    The regex is ``[L][-_L]{3} | [D](?:S{0,3}[D]){4} | short official numbers``: a
    letter then three letters, hyphens or underscores; or five digits (spelled too),
    consecutive ones at most three phone separators apart; or a short official number.
    Each character's classes come from one table lookup; the letter runs are four
    shifted ANDs; the digit chains look only at the digits (few in Chinese text). A
    position matches here exactly when the regex matches there, so a part has a match
    exactly when the regex search finds one (digits and separators never overlap; if a
    lexicon made them overlap, the regex is used instead)."""

    def __init__(self, letters: str, digits: str, short: list[str]) -> None:
        gaps = [chr(c) for c in range(0x3001) if _GAP_CHARS.fullmatch(chr(c))]
        chars = {*letters, *digits, *gaps, "-", "_"}
        self._limit = max(map(ord, chars)) + 1  # every code point above: no class
        table = np.zeros(self._limit + 1, dtype=np.uint8)
        for ch in set(letters):
            table[ord(ch)] |= _LETTER
        for ch in "-_":
            table[ord(ch)] |= _JOIN
        for ch in set(digits):
            table[ord(ch)] |= _DIGIT
        for ch in gaps:
            table[ord(ch)] |= _GAP
        self._table = table
        self._exact = not set(digits) & set(gaps)
        self._short = re.compile("|".join(map(re.escape, short))) if short else None
        self._regex = re.compile(
            f"[{_class(letters)}][-_{_class(letters)}]{{3}}"
            f"|[{_class(digits)}](?:{_PHONE_SEP}{{0,3}}[{_class(digits)}]){{4}}"
            + "".join(f"|{re.escape(n)}" for n in short)
        )

    def parts(self, codes: np.ndarray, joined: str, bounds: np.ndarray) -> list[int]:
        if not self._exact:  # the chains below assume digits are never separators
            found = [m.start() for m in self._regex.finditer(joined)]
            return _parts_of(np.asarray(found, dtype=np.int64), bounds)
        size = len(codes)
        cls = self._table[np.minimum(codes, self._limit)]
        found = []
        if size >= 4:
            letter = (cls & _LETTER).astype(bool)
            if letter.any():
                word = (cls & (_LETTER | _JOIN)).astype(bool)
                run = letter[:-3] & word[1:-2] & word[2:-1] & word[3:]
                found.append(np.flatnonzero(run))
        digit_at = np.flatnonzero(cls & _DIGIT)
        if len(digit_at) >= 5:
            # padded so that the three characters after any digit can be looked at
            gap = np.concatenate(((cls & _GAP).astype(bool), np.zeros(3, dtype=bool)))
            between = np.diff(digit_at) - 1  # characters between consecutive digits
            d = digit_at[:-1]
            link = (between == 0) | (
                gap[d + 1]
                & ((between == 1) | (gap[d + 2] & ((between == 2) | ((between == 3) & gap[d + 3]))))
            )
            chain = link[:-3] & link[1:-2] & link[2:-1] & link[3:]
            found.append(digit_at[:-4][chain])
        if self._short is not None:
            found.append(np.fromiter((m.start() for m in self._short.finditer(joined)), np.int64))
        if not found:
            return []
        return _parts_of(np.concatenate(found), bounds)


def _class(chars: str) -> str:
    return "".join(re.escape(ch) for ch in sorted(set(chars)))


def _parts_of(positions: np.ndarray, bounds: np.ndarray) -> list[int]:
    """The distinct parts (by index) that ``positions`` fall in."""
    if not len(positions):
        return []
    return np.unique(np.searchsorted(bounds, positions, side="right") - 1).tolist()


def _only_digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


def _host(link: str) -> str:
    rest = re.sub(r"^(?:https?://)?(?:www\.)?", "", link)
    return re.split(r"[/?#:]", rest, maxsplit=1)[0]


def _canonical_link(link: str) -> str:
    rest = re.sub(r"^(?:https?://)?(?:www\.)?", "", link)
    return rest.rstrip("/")


def describe(contact: Contact) -> str:
    """Short zh-CN label for reasons: "微信 tuibao8866"."""
    return f"{KIND_LABELS_ZH.get(contact.kind, contact.kind)} {contact.value}"
