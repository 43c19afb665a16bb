"""Is an invitation really an invitation, is a contact really advertised?

Why: warnings and victims use the ads' own words. A warning quotes the ad ("网上那些“V我
全额退保”的都是中介"), says what not to do ("不加微信"), or points to the official channel
("联系我们的官方客服"); a victim names the scammer's WeChat to expose it ("这个微信是骗子
别加", "对方电话是…, 现在是空号"). Counting those as calls to action or private contacts
would flag exactly the posts the design says must never be flagged. A call to action that
spans a sentence break in the original ("联系。我们…") is no call to action, and a selling
word inside quotation marks counts for less (warnings quote the slogans).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from detectors.lexicon import Lexicon
from detectors.matcher import Hit, TermEntry
from detectors.normalize import NormText
from pipeline.models import Contact, Evidence

EXPOSURE_FAMILY = "exposure_frame"
WARNING_FAMILY = "warning_frame"
INVITE_FAMILY = "contact_cue"
OFFICIAL_FAMILY = "official_channel"


@dataclass(frozen=True, slots=True)
class InvitationRules:
    families: frozenset[str]
    negations: tuple[str, ...]
    narrative: tuple[str, ...]
    quote_pattern: re.Pattern[str] | None
    official_window: int
    sentence_breaks: re.Pattern[str]
    mention_family: str = ""
    promote_to: str = ""
    promote_weight: float = 0.0
    keyword_quotes: str = ""
    invite_families: frozenset[str] = frozenset({INVITE_FAMILY})
    negated: re.Pattern[str] | None = None  # one of `negations` right before a hit
    narrated: re.Pattern[str] | None = None  # one of `narrative` right after a hit
    narrative_markers: tuple[str, ...] = ()
    marker_window: int = 16
    quoted_factor: float = 1.0
    quote_openers: tuple[str, ...] = ()

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon, compact: Callable[[str], str]) -> InvitationRules:
        scoring = lexicon.scoring
        inv = scoring["invitation"]
        promote_to = str(inv.get("promote_to", ""))
        target = lexicon.families.get(promote_to)
        limit = int(inv.get("max_quote_chars", 40))
        quotes = [
            f"{re.escape(q[0])}[^{re.escape(q[1])}\\n]{{1,{limit}}}{re.escape(q[1])}"
            for q in inv.get("quotes", [])
            if len(q) == 2
        ]
        breaks = scoring["exposure"]["sentence_breaks"]
        negations = [compact(n) for n in inv["negations"]]
        narrative = [compact(n) for n in inv.get("narrative_suffixes", [])]
        return cls(
            families=frozenset(inv["families"]),
            negations=tuple(compact(n) for n in inv["negations"]),
            narrative=tuple(compact(n) for n in inv.get("narrative_suffixes", [])),
            quote_pattern=re.compile("|".join(quotes)) if quotes else None,
            official_window=int(inv.get("official_window", 0)),
            sentence_breaks=re.compile("[" + re.escape(breaks) + "]"),
            mention_family=str(inv.get("mention_family", "")),
            promote_to=promote_to if target else "",
            promote_weight=target.weight if target else 0.0,
            keyword_quotes=str(inv.get("keyword_quotes", "")),
            negated=_alternation(negations, "(?:{})$"),
            narrated=_alternation(narrative, "(?:{})"),
            invite_families=frozenset(scoring["exposure"].get("invite_families", [INVITE_FAMILY])),
            narrative_markers=tuple(scoring["exposure"].get("narrative_markers", [])),
            marker_window=int(scoring["exposure"].get("marker_window", 16)),
            quoted_factor=float(inv.get("quoted_factor", 1.0)),
            quote_openers=tuple(q[0] for q in inv.get("quotes", []) if len(q) == 2),
        )

    def frame_invitations(self, nt: NormText, hits: list[Hit]) -> list[Hit]:
        """Drop calls to action that are negated, narrated, quoted or point to an official
        channel; promote a bare mention that ends a sentence or asks for a quoted keyword
        ("有意向私信。", "私信“上岸”") to an invitation."""
        quotes = self._quote_spans(nt.original)
        if quotes and self.quoted_factor != 1.0:
            hits = [self._discount_quoted(nt, h, quotes) for h in hits]
        if not any(h.entry.feature in self.families for h in hits):
            return hits
        officials = [h.start for h in hits if h.entry.feature == OFFICIAL_FAMILY]
        invites = [(h.start, h.end) for h in hits if h.entry.feature == self.promote_to]
        kept = []
        for hit in hits:
            if hit.entry.feature == self.mention_family and any(
                a <= hit.start and hit.end <= b for a, b in invites
            ):
                continue  # "私信" inside "私信我" says nothing more
            if hit.entry.feature in self.families and (
                self._crosses_sentence(nt, hit)
                or (self.negated is not None and self.negated.search(nt.norm, 0, hit.start))
                or (self.narrated is not None and self.narrated.match(nt.norm, hit.end))
                or self._quoted(nt, hit, quotes)
                or any(0 <= s - hit.end <= self.official_window for s in officials)
            ):
                continue
            if hit.entry.feature == self.mention_family and self.promote_to:
                hit = self._promoted(nt, hit)
            kept.append(hit)
        return kept

    def _promoted(self, nt: NormText, hit: Hit) -> Hit:
        _, end = nt.span(hit.start, hit.end)
        text = nt.original
        while end < len(text) and not (
            text[end].isalnum()
            or text[end] in self.keyword_quotes
            or self.sentence_breaks.match(text, end)
        ):
            end += 1  # skip spaces, zero-width characters and emoji
        nxt = text[end] if end < len(text) else ""
        if not nxt or nxt in self.keyword_quotes or self.sentence_breaks.match(nxt):
            e = hit.entry
            entry = TermEntry(e.term, self.promote_to, e.category, self.promote_weight)
            return Hit(hit.start, hit.end, entry)
        return hit

    def _discount_quoted(self, nt: NormText, hit: Hit, quotes: list[tuple[int, int]]) -> Hit:
        """A selling word inside quotation marks is being quoted ("警惕“全额退保”"):
        warnings and news quote the slogans; it counts for less."""
        e = hit.entry
        if e.weight <= 0 or e.feature in self.families or not self._quoted(nt, hit, quotes):
            return hit
        entry = TermEntry(e.term, e.feature, e.category, e.weight * self.quoted_factor)
        return Hit(hit.start, hit.end, entry)

    def _narrated(self, lowered: str, contact: Contact) -> bool:
        a = max(0, contact.start - self.marker_window)
        b = contact.end + self.marker_window
        return any(m in lowered[a:b] for m in self.narrative_markers)

    def _no_quotes(self, text: str) -> bool:
        return not any(q in text for q in self.quote_openers)

    def _crosses_sentence(self, nt: NormText, hit: Hit) -> bool:
        """ "联系。我们…" is two sentences, not "联系我": normalisation removed the full
        stop, the original still has it."""
        start, end = nt.span(hit.start, hit.end)
        return self.sentence_breaks.search(nt.original, start, end) is not None

    def _quote_spans(self, text: str) -> list[tuple[int, int]]:
        if self.quote_pattern is None or self._no_quotes(text):
            return []
        return [m.span() for m in self.quote_pattern.finditer(text)]

    @staticmethod
    def _quoted(nt: NormText, hit: Hit, quotes: list[tuple[int, int]]) -> bool:
        start, end = nt.span(hit.start, hit.end)
        return any(a < start and end < b for a, b in quotes)

    def split_exposed(
        self, text: str, contacts: list[Contact], terms: list[Evidence]
    ) -> tuple[list[Contact], list[Contact]]:
        """A contact is being exposed, not advertised, when it shares a sentence with an
        exposure term ("这个微信是骗子 别加") and no invitation, or when the whole post
        exposes and invites nobody anywhere, and the contact is narrated as someone
        else's ("对方电话是…", "…已经是空号"): an ad always asks the reader in."""
        exposure = [e for e in terms if e.feature == EXPOSURE_FAMILY]
        warns = exposure or any(e.feature == WARNING_FAMILY for e in terms)
        if not contacts or not warns:
            return contacts, []
        invites = [e for e in terms if e.feature in self.invite_families]
        post_exposes = not invites and self.narrative_markers
        lowered = text.lower() if post_exposes else ""
        cuts = [m.start() for m in self.sentence_breaks.finditer(text)]
        private: list[Contact] = []
        exposed: list[Contact] = []
        for contact in contacts:
            i = bisect.bisect_left(cuts, contact.start)
            lo = cuts[i - 1] + 1 if i > 0 else 0
            hi = cuts[i] if i < len(cuts) else len(text)
            around = [e for e in (*exposure, *invites) if lo <= e.start and e.end <= hi]
            if (
                any(e.feature == EXPOSURE_FAMILY for e in around)
                and not any(e.feature in self.invite_families for e in around)
            ) or (post_exposes and self._narrated(lowered, contact)):
                exposed.append(contact)
            else:
                private.append(contact)
        return private, exposed


def _alternation(words: list[str], template: str) -> re.Pattern[str] | None:
    """One regex for a word list, longest first (one C call instead of one per word)."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(template.format("|".join(re.escape(w) for w in words)))
