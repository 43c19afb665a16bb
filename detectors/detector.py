"""The post detector: normalise → match lexicon → extract contacts → score, with evidence.

Construction does all the work that can be shared (reading the lexicon, building the
automaton and regexes); ``detect`` is then pure and allocation-light, so one instance can
serve every thread or task of a runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from detectors.contacts import ContactExtractor
from detectors.framing import InvitationRules
from detectors.lexicon import load_lexicon
from detectors.matcher import Matcher
from detectors.normalize import Normalizer
from detectors.scoring import Scored, Scorer, Signals
from pipeline.models import Contact, Evidence, Verdict

CONTACT_FEATURE = "private_contact"
EXPOSED_FEATURE = "exposed_contact"
OFFICIAL_FEATURE = "official_channel"


@dataclass(slots=True)
class Analysis:
    text: str
    normalized: str  # the normalised view (width, case, separators, t2s, aliases folded)
    signals: Signals
    rule: Scored  # what the rules alone conclude


class Detector:
    """Scores one post (and its author's bio) for 代理维权 black-market advertising."""

    def __init__(self, lexicon_dir: Path | None = None) -> None:
        self.lexicon = load_lexicon(lexicon_dir)
        self.version: str = self.lexicon.version
        self._normalizer = Normalizer(
            self.lexicon.char_map, self.lexicon.aliases, self.lexicon.contextual
        )
        self._matcher = Matcher(self.lexicon, self._normalizer)
        self._contacts = ContactExtractor(self.lexicon.contacts)
        self._scorer = Scorer(self.lexicon)
        self._framing = InvitationRules.from_lexicon(self.lexicon, self._normalizer.compact)
        self.threshold = self._scorer.threshold
        official = self.lexicon.families.get(OFFICIAL_FEATURE)
        self._official_weight = official.weight if official else 0.0

    def analyse(self, text: str, bio: str | None = None) -> Analysis:
        """Everything the rules see in one post: the classifier's inputs and the evidence."""
        nt = self._normalizer.normalize(text)
        hits = self._framing.frame_invitations(nt, self._matcher.find(nt.norm))
        terms: list[Evidence] = []
        for hit in hits:
            start, end = nt.span(hit.start, hit.end)
            terms.append(
                Evidence(
                    start=start,
                    end=end,
                    text=text[start:end],
                    feature=hit.entry.feature,
                    category=hit.entry.category,
                    weight=hit.entry.weight,
                )
            )
        contacts, official = self._contacts.extract(text, nt.folded)
        for o in official:
            terms.append(
                Evidence(
                    start=o.start,
                    end=o.end,
                    text=text[o.start : o.end],
                    feature=OFFICIAL_FEATURE,
                    weight=self._official_weight,
                )
            )
        private, exposed = self._framing.split_exposed(text, contacts, terms)
        bio_contacts = self.bio_contacts(bio) if bio else []
        signals = Signals(terms, private, exposed, bio_contacts)
        return Analysis(
            text=text, normalized=nt.norm, signals=signals, rule=self._scorer.score(signals)
        )

    def verdict(self, analysis: Analysis, probability: float | None = None) -> Verdict:
        """The verdict for an analysed post; ``probability`` is the classifier's opinion
        when one ran (None: the rules alone decide)."""
        del probability  # the classifier arrives with issue 3; rules decide until then
        signals, scored = analysis.signals, analysis.rule
        evidence = list(signals.terms)
        evidence += [_contact_evidence(c, CONTACT_FEATURE) for c in signals.contacts]
        evidence += [_contact_evidence(c, EXPOSED_FEATURE) for c in signals.exposed]
        evidence.sort(key=lambda e: (e.start, e.end, e.feature))
        return Verdict(
            flagged=scored.flagged,
            score=scored.score,
            categories=scored.categories,
            evidence=evidence,
            contacts=signals.contacts + signals.bio_contacts,
            reasons=scored.reasons,
            detector_version=self.version,
        )

    def detect(self, text: str, bio: str | None = None) -> Verdict:
        return self.verdict(self.analyse(text, bio))

    def detect_many(self, posts: Sequence[tuple[str, str | None]]) -> list[Verdict]:
        """Verdicts for ``(text, bio)`` pairs, in order. Batched, because a model scores
        a batch far faster than the same posts one at a time."""
        return [self.verdict(self.analyse(text, bio)) for text, bio in posts]

    def bio_contacts(self, bio: str) -> list[Contact]:
        """Private contacts in an author's bio (offsets index the bio, ``in_bio=True``)."""
        found, _ = self._contacts.extract(bio, self._normalizer.fold(bio), bio=True)
        return [msgspec.structs.replace(c, in_bio=True) for c in found]


def _contact_evidence(contact: Contact, feature: str) -> Evidence:
    return Evidence(
        start=contact.start,
        end=contact.end,
        text=contact.value,
        feature=feature,
    )
