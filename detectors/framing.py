"""Is an invitation really an invitation, is a contact really advertised?

Why: warnings and victims use the ads' own words. A warning quotes the ad ("网上那些“V我
全额退保”的都是中介"), says what not to do ("不加微信"), or points to the official channel
("联系我们的官方客服"); a victim names the scammer's WeChat to expose it ("这个微信是骗子
别加", "对方电话是…, 现在是空号"). Counting those as calls to action or private contacts
would flag exactly the posts the design says must never be flagged. A call to action that
spans a sentence break in the original ("联系。我们…") is no call to action, and a selling
word inside quotation marks counts for less (warnings quote the slogans).

Who speaks (``scoring.toml`` [attribution]). An ad's invitation is the author's own and
addressed to the reader: an imperative with no subject, or with the author as subject of
an offer ("加我", "私我", "我推给你"). A victim's story carries the same words, but
somebody else speaks them or the author is their object, and those are dropped:
- reported speech: text inside quotation marks, or after a third person or a medium and
  a verb of saying ("对方说…", "广告写着：…") up to the end of the clause (at most
  ``speech_limit`` characters; to the end of the sentence after a colon). Invitations
  there are quoted, and selling words count for less;
- a third-person subject right before the invitation ("他就私信我", "对方加我");
- a directive to someone ("让我加…", "叫我妈点头像", "要求大家私他"): someone else's
  request, reported by the author, not the author's request to the reader;
- a perfective aspect right after it ("加微信了", "私信过", but not "私信了解"): it tells
  what happened (not for a funnel: "置顶了" is the author posting the way in);
- an own invitation (own_invitation, "联系我") followed by 们 / 行 / 司…: an institution
  speaking of itself ("联系我们", "联系我行"), not the author's own offer.
A contact is someone else's (exposed, not advertised) when the post invites nobody and
either someone asked the author to use it ("让我加…") or it acted on the author
("…给我打电话", "…一直骚扰"); or the post tells (an exposure, warning, grievance or news
frame: ``telling_frames``) and the contact is quoted or reported, or its clause names its
owner ("他的微信…", "对方电话…"). An owner without a frame is not enough: a referral ad
names someone else's number too ("那个老师的微信…").
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from detectors.lexicon import Lexicon
from detectors.matcher import Hit, TermEntry
from detectors.normalize import NormText
from pipeline.models import Contact, Evidence

EXPOSURE_FAMILY = "exposure_frame"
WARNING_FAMILY = "warning_frame"
INVITE_FAMILY = "contact_cue"
OFFICIAL_FAMILY = "official_channel"
OWN_FAMILY = "own_invitation"
_SPACE = re.compile(r"\s")


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
    # who speaks (see the module docstring); None: that test is off
    speech: re.Pattern[str] | None = None  # a third person or medium + verb of saying
    subject: re.Pattern[str] | None = None  # third person right before (searched on a clause)
    directed: re.Pattern[str] | None = None  # directive + addressee before (on a clause)
    aspect: re.Pattern[str] | None = None  # perfective right after
    posted_families: frozenset[str] = frozenset({"funnel"})  # no aspect test for these
    speech_limit: int = 12  # reported speech without a colon: at most this long
    owner_before: re.Pattern[str] | None = None  # the contact's owner, in its clause
    owner_after: re.Pattern[str] | None = None  # what the contact did to the author
    clause_breaks: re.Pattern[str] | None = None
    attribution_window: int = 12
    plural: re.Pattern[str] | None = None  # after a first-person offer: an institution
    # frames that tell a story rather than sell: a post with one may expose a contact
    telling_frames: frozenset[str] = frozenset({EXPOSURE_FAMILY, WARNING_FAMILY})
    # the characters a ``speech`` match can start with (see ``_scan``); None: unknown
    speech_first: re.Pattern[str] | None = None
    negation_reach: int = 0  # the longest negation: how far back ``negated`` can reach

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
            negation_reach=max(map(len, negations), default=0),
            narrated=_alternation(narrative, "(?:{})"),
            invite_families=frozenset(scoring["exposure"].get("invite_families", [INVITE_FAMILY])),
            narrative_markers=tuple(scoring["exposure"].get("narrative_markers", [])),
            marker_window=int(scoring["exposure"].get("marker_window", 16)),
            telling_frames=frozenset(
                scoring["exposure"].get("telling_frames", [EXPOSURE_FAMILY, WARNING_FAMILY])
            ),
            quoted_factor=float(inv.get("quoted_factor", 1.0)),
            quote_openers=tuple(q[0] for q in inv.get("quotes", []) if len(q) == 2),
            **_attribution(scoring.get("attribution", {}), breaks),
        )

    def frame_invitations(self, nt: NormText, hits: list[Hit]) -> list[Hit]:
        """Drop calls to action that are negated, narrated, quoted or point to an official
        channel; promote a bare mention that ends a sentence or asks for a quoted keyword
        ("有意向私信。", "私信“上岸”") to an invitation."""
        quotes = self._quote_spans(nt.original) + self._speech_spans(nt.original)
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
                or (
                    self.negated is not None
                    and self.negated.search(
                        nt.norm, max(0, hit.start - self.negation_reach), hit.start
                    )
                )
                or (self.narrated is not None and self.narrated.match(nt.norm, hit.end))
                or self._quoted(nt, hit, quotes)
                or any(0 <= s - hit.end <= self.official_window for s in officials)
                or self._someone_elses(nt, hit)
            ):
                continue
            if hit.entry.feature == self.mention_family and self.promote_to:
                hit = self._promoted(nt, hit)
            kept.append(hit)
        return kept

    def _clause_before(self, text: str, start: int) -> str:
        """The text of the clause before ``start``, at most ``attribution_window`` long."""
        lo = max(0, start - self.attribution_window)
        before = text[lo:start]
        if self.clause_breaks is not None:
            cuts = self.clause_breaks.split(before)
            before = cuts[-1]
        return before

    def _someone_elses(self, nt: NormText, hit: Hit) -> bool:
        """Is this invitation spoken by, addressed to, or done by someone other than the
        author inviting the reader (see the module docstring)?"""
        start, end = nt.span(hit.start, hit.end)
        text = nt.original
        before = self._clause_before(text, start)
        if before and (
            (self.subject is not None and self.subject.search(before))
            or (self.directed is not None and self.directed.search(before))
        ):
            return True
        if (
            hit.entry.feature == OWN_FAMILY
            and self.plural is not None
            and self.plural.match(text, end) is not None
        ):
            return True  # "联系我们", "联系我行": an institution, not the author's offer
        # "置顶了" / "放评论区了" is the author posting the way in: an invitation still
        return (
            hit.entry.feature not in self.posted_families
            and self.aspect is not None
            and self.aspect.match(text, end) is not None
        )

    def _speech_spans(self, text: str) -> list[tuple[int, int]]:
        """Reported speech without quotation marks: from the verb of saying to the end of
        the clause, or of the sentence when a colon introduces it ("广告写着：…")."""
        if self.speech is None:
            return []
        spans = []
        found_speech = (
            _scan(self.speech_first, self.speech, text)
            if self.speech_first is not None
            else self.speech.finditer(text)
        )
        for m in found_speech:
            colon = bool(m.group("colon"))
            stop = self.sentence_breaks if colon else self.clause_breaks
            found = stop.search(text, m.end()) if stop is not None else None
            end = found.start() if found else len(text)
            if not colon:  # short, and ends at a space too ("说谢谢😭 需要的私信")
                gap = _SPACE.search(text, m.end(), end)
                end = min(gap.start() if gap else end, m.end() + self.speech_limit)
            # a strict superset of the span, so a hit at its edges is inside it
            spans.append((m.end() - 1, end + 1))
        return spans

    def _attributed(
        self, text: str, contact: Contact, spans: list[tuple[int, int]], told: bool
    ) -> bool:
        """Does the contact belong to someone else: someone asked the author to use it
        ("让我加…") or it acted on the author ("…给我打电话"); or, in a post that tells
        (``told``: a telling frame), it is quoted or reported, or its clause names its
        owner ("对方QQ…"). Without a frame an owner is not enough: a referral ad names
        someone else's number too ("那个老师的微信…")."""
        before = self._clause_before(text, contact.start)
        if before and self.directed is not None and self.directed.search(before):
            return True
        if told and (
            any(a < contact.start and contact.end < b for a, b in spans)
            or (before and self.owner_before is not None and self.owner_before.search(before))
        ):
            return True
        return (
            self.owner_after is not None and self.owner_after.match(text, contact.end) is not None
        )

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
        else's ("对方电话是…", "…已经是空号"), or attributed to someone else (quoted,
        reported, its owner named, a directive before it, a deed on the author after it:
        ``_attributed``): an ad always asks the reader in."""
        exposure = [e for e in terms if e.feature == EXPOSURE_FAMILY]
        warns = exposure or any(e.feature in self.telling_frames for e in terms)
        invites = [e for e in terms if e.feature in self.invite_families]
        if not contacts or (not warns and (invites or self.speech is None)):
            return contacts, []
        post_exposes = not invites and bool(self.narrative_markers)
        lowered = text.lower() if post_exposes and warns else ""
        spans = (self._quote_spans(text) + self._speech_spans(text)) if post_exposes else []
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
            ) or (
                post_exposes
                and (
                    (warns and self._narrated(lowered, contact))
                    or self._attributed(text, contact, spans, bool(warns))
                )
            ):
                exposed.append(contact)
            else:
                private.append(contact)
        return private, exposed


def _attribution(cfg: dict, breaks: str) -> dict:
    """The who-speaks regexes from ``scoring.toml`` [attribution] (empty: all off)."""
    if not cfg:
        return {}

    def alt(key: str) -> str:
        words = sorted({str(w) for w in cfg.get(key, []) if w}, key=len, reverse=True)
        return "(?:" + "|".join(re.escape(w) for w in words) + ")" if words else "(?!)"

    # what may stand between a third-person subject and its verb: a few characters, no
    # first or second person ("他的小号就私信我", "对方还继续加我")
    filler = "[^" + re.escape(str(cfg.get("clause_breaks", "，,、")) + breaks + "我你") + "]"
    filler += f"{{0,{int(cfg.get('subject_gap', 4))}}}"
    clause = "[^" + re.escape(str(cfg.get("clause_breaks", "，,、")) + breaks) + "]"
    third, verbs, media = alt("third_persons"), alt("speech_verbs"), alt("speech_media")
    directive = alt("directives") + alt("addressees")
    gap = int(cfg.get("directive_gap", 4))
    firsts = {str(w)[0] for key in ("third_persons", "speech_media") for w in cfg.get(key, []) if w}
    return {
        "speech": re.compile(
            f"(?:{third}|{media}){clause}{{0,8}}?{verbs}(?P<colon>[：:])?", re.IGNORECASE
        ),
        # the same flags, so a character matches here exactly when it can open a match
        "speech_first": re.compile(
            "[" + "".join(re.escape(c) for c in sorted(firsts)) + "]", re.IGNORECASE
        )
        if firsts
        else re.compile("(?!)"),
        "subject": re.compile(f"{third}(?:{cfg.get('locative', '(?!)')})?{filler}$", re.IGNORECASE),
        "plural": re.compile(alt("plural_after")),
        "directed": re.compile(f"{directive}{clause}{{0,{gap}}}$", re.IGNORECASE),
        "aspect": re.compile(str(cfg["aspect"])) if cfg.get("aspect") else None,
        "speech_limit": int(cfg.get("speech_limit", 12)),
        "owner_before": re.compile(alt("owners"), re.IGNORECASE),
        "owner_after": re.compile(f"{clause}{{0,4}}?{alt('deeds')}", re.IGNORECASE),
        "clause_breaks": re.compile(
            "[" + re.escape(str(cfg.get("clause_breaks", "，,、")) + breaks) + "]"
        ),
        "attribution_window": int(cfg.get("window", 12)),
    }


def _scan(first: re.Pattern[str], pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, for a pattern whose matches are never empty and
    always start with a character ``first`` matches (no look-behind, no anchors).

    Why: ``speech`` opens with an alternation of a few dozen words, case-insensitive,
    so the regex engine cannot skip ahead and tries every alternative at every position
    (≈ 8 µs on a 70-character post); finding the candidate characters with a one-class
    search and trying the pattern only there gives the same matches in a third of it."""
    pos = 0
    search, match = first.search, pattern.match
    while (found := search(text, pos)) is not None:
        m = match(text, found.start())
        if m is None:
            pos = found.start() + 1
        else:
            yield m
            pos = max(m.end(), found.start() + 1)


def _alternation(words: list[str], template: str) -> re.Pattern[str] | None:
    """One regex for a word list, longest first (one C call instead of one per word)."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(template.format("|".join(re.escape(w) for w in words)))
