"""The post detector: normalise → match lexicon → extract contacts → score, with evidence.

Construction does all the work that can be shared (reading the lexicon, building the
automaton and regexes); ``detect`` is then pure and allocation-light, so one instance can
serve every thread or task of a runner.
"""

from __future__ import annotations

import functools
import gc
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from detectors.classifier import MODEL_DIR, Classifier, Combined, flagged_categories
from detectors.contacts import ContactExtractor, OfficialHit
from detectors.framing import InvitationRules
from detectors.lexicon import CONTEXT_FEATURE, SCHEME_FEATURE, lexicon_files, load_lexicon
from detectors.matcher import Hit, Matcher
from detectors.normalize import Normalizer, NormText
from detectors.scoring import Scored, Scorer, Signals
from pipeline.models import Contact, Evidence, Verdict

CONTACT_FEATURE = "private_contact"
_SEP = "\ue000"  # joins a batch; a private-use character folds to a space, never survives
EXPOSED_FEATURE = "exposed_contact"
# Why ``detect_many`` pauses the cyclic garbage collector for the batch: it allocates
# several tracked objects per post (verdicts, their lists, evidence), none of which form
# reference cycles, so every collection the batch triggers scans the caller's whole young
# heap for nothing (measured ≈ 15% of the time of a 500-post batch). Refcounting still
# frees everything; the collector is switched back on when the batch returns (and left
# alone if the caller had switched it off).
OFFICIAL_FEATURE = "official_channel"
_EVIDENCE_ORDER = operator.attrgetter("start", "end", "feature")  # a verdict's evidence order


@dataclass(slots=True)
class Analysis:
    text: str
    normalized: str  # the normalised view (width, case, separators, t2s, aliases folded)
    signals: Signals
    rule: Scored  # what the rules alone conclude


class Detector:
    """Scores one post (and its author's bio) for 代理维权 black-market advertising."""

    def __init__(self, lexicon_dir: Path | None = None, model_dir: Path | None = MODEL_DIR) -> None:
        self._lexicon_dir, self._model_dir = lexicon_dir, model_dir
        self._stamp = _stamp(lexicon_dir, model_dir)
        self.lexicon = load_lexicon(lexicon_dir)
        self.version: str = self.lexicon.version
        # the trained classifier (None: rules only, e.g. model_dir=None or no artifact)
        self.model = Classifier.load(self.lexicon, model_dir) if model_dir else None
        if self.model is not None:
            self.version += "+" + self.model.version
        self._normalizer = Normalizer(
            self.lexicon.char_map,
            self.lexicon.aliases,
            self.lexicon.contextual,
            self.lexicon.pinyin,
        )
        if self._normalizer.fold(_SEP) != " ":  # what cutting a batch relies on
            raise ValueError("the batch separator U+E000 must fold to a space")
        self._matcher = Matcher(self.lexicon, self._normalizer)
        self._contacts = ContactExtractor(self.lexicon.contacts, self.lexicon.homoglyphs)
        self._scorer = Scorer(self.lexicon)
        self._framing = InvitationRules.from_lexicon(self.lexicon, self._normalizer.compact)
        self.threshold = self._scorer.threshold
        official = self.lexicon.families.get(OFFICIAL_FEATURE)
        self._official_weight = official.weight if official else 0.0
        # the signals of every post with nothing in it: shared, never mutated (verdict
        # copies what it keeps), so the common case allocates one object less
        self._quiet = Signals([], [], [], [])
        # and their rule result, shared the same way (``verdict`` copies its lists)
        self._nothing = self._scorer.nothing()
        # the verdict of every quiet post of a batch (shared: see ``_detect_many``)
        self._quiet_verdict = Verdict(
            flagged=False, score=self._nothing.score, detector_version=self.version
        )
        # what a bio may add: the business it names ("专注退保7年"), never frames
        self._bio_features = frozenset(
            {SCHEME_FEATURE, CONTEXT_FEATURE, *self._scorer.scheme_families}
        )

    def analyse_many(self, posts: Sequence[tuple[str, str | None]]) -> list[Analysis]:
        """``analyse`` for a batch of ``(text, bio)``: the same analyses, faster.

        Why a batch path: most posts of a stream are chatter with nothing to find, and
        per-post Python overhead dominates for them. Here the whole batch is folded in
        one vectorised lookup, stripped in one numpy pass, and screened in one
        Aho-Corasick pass (aliases and lexicon) plus one contact pre-check over the
        joined text (and bios); only the posts with something in them take the full
        path, and a post with only digits or ASCII takes it only if a contact is there.
        ``detect_many`` should call this."""
        norms, found = self._analyse_found(posts)
        quiet, nothing = self._quiet, self._nothing
        out = [
            Analysis(text, norm, quiet, nothing)
            for (text, _), norm in zip(posts, norms, strict=True)
        ]
        for i, analysis in found.items():
            out[i] = analysis
        return out

    def _analyse_found(
        self, posts: Sequence[tuple[str, str | None]]
    ) -> tuple[list[str], dict[int, Analysis]]:
        """Each post's compact form, and the analyses of the posts with something found
        (by index; every other post is quiet: ``self._quiet`` signals, ``self._nothing``
        rule, its compact form as ``normalized``)."""
        if not posts:
            return [], {}
        texts = [text for text, _ in posts]
        owners = [i for i, (_, bio) in enumerate(posts) if bio]  # the posts with a bio
        parts = texts + [posts[i][1] for i in owners]  # type: ignore[misc]
        view = self._normalizer.fold_strip_many(parts, len(texts), _SEP)
        if view is None:  # a post holds the separator itself: it folds to a space anyway
            parts = [p.replace(_SEP, " ") for p in parts]
            view = self._normalizer.fold_strip_many(parts, len(texts), _SEP)
            assert view is not None
        n = len(texts)
        folded, norms, starts = view.folded, view.norms, view.starts
        busy = set(self._matcher.screen_parts(view.compact, view.norm_bounds))
        dialling = []
        for part in self._contacts.candidate_parts(view.codes, view.folded_joined, view.bounds):
            if part < n:
                dialling.append(part)
            else:  # a bio with a contact candidate: its post takes the full path
                busy.add(owners[part - n])
        for i in dialling:
            # digits or ASCII only: worth the full look only if a contact is there
            if i not in busy and self._contacts.has_contact(folded[i]):
                busy.add(i)
        quiet = self._quiet
        found = {}
        bio_folded = dict(zip(owners, folded[n:], strict=True))
        for i in sorted(busy):
            text, bio = posts[i]
            nt = self._normalizer.normalize(
                text, folded[i], norms[i], functools.partial(starts.__getitem__, i)
            )
            analysis = self._analyse(text, bio, nt, bio_folded.get(i))
            # a quiet post is kept only when aliases rewrote its normalised view
            if analysis.signals is not quiet or analysis.normalized != norms[i]:
                found[i] = analysis
        return norms, found

    def analyse(self, text: str, bio: str | None = None) -> Analysis:
        """Everything the rules see in one post: the classifier's inputs and the evidence.

        Fast path: most posts in a stream hold no lexicon term and no contact candidate;
        for them the cost is one ``str.translate``, one strip, one Aho-Corasick pass and
        one regex search, and the bio is not looked at beyond its contact pre-check."""
        return self._analyse(text, bio, self._normalizer.normalize(text))

    def _analyse(
        self, text: str, bio: str | None, nt: NormText, bio_folded: str | None = None
    ) -> Analysis:
        hits = self._matcher.find(nt.norm)
        contacts: list[Contact] = []
        official: list[OfficialHit] = []
        if self._contacts.candidate(nt.folded):
            contacts, official = self._contacts.extract(text, nt.folded)
        bio_contacts = self._bio_contacts(bio, bio_folded) if bio else []
        if not (contacts or bio_contacts or self._matcher.selling(hits)):
            # nothing sold, no way in: nothing to score and nothing to explain (the
            # frames and official numbers a post like this carries only lower a score)
            return Analysis(text, nt.norm, self._quiet, self._nothing)
        if hits:
            hits = self._framing.frame_invitations(nt, hits)
        terms = _evidence_list(text, nt, hits)
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
        private, exposed = (
            self._framing.split_exposed(text, contacts, terms) if contacts else ([], [])
        )
        bio_terms: list[Evidence] = []
        if bio and terms:
            bio_nt = self._normalizer.normalize(bio, bio_folded)
            bio_terms = [
                self._evidence(bio, bio_nt, hit)
                for hit in self._matcher.find(bio_nt.norm)
                if hit.entry.feature in self._bio_features
            ]
            split = self._contacts.split_phone(nt.folded, bio_nt.folded, bio)
            if split is not None and all(c.canonical != split.canonical for c in bio_contacts):
                bio_contacts.append(split)
        signals = Signals(terms, private, exposed, bio_contacts, bio_terms)
        return Analysis(
            text=text, normalized=nt.norm, signals=signals, rule=self._scorer.score(signals)
        )

    @staticmethod
    def _evidence(text: str, nt: NormText, hit: Hit) -> Evidence:
        start, end = nt.span(hit.start, hit.end)
        entry = hit.entry
        return Evidence(
            start=start,
            end=end,
            text=text[start:end],
            feature=entry.feature,
            category=entry.category,
            weight=entry.weight,
        )

    def reload(self) -> bool:
        """Rebuild from the lexicon (and model) files if any changed since construction;
        True when it did. Why: analysts edit the TOML files while the monitor runs. The
        new detector is built completely before anything is swapped, so a broken file
        raises :class:`~detectors.lexicon.LexiconError` here and leaves the running
        detector untouched; the swap itself is attribute by attribute, so call this
        between batches (the runner's scoring loop), not while another thread detects."""
        stamp = _stamp(self._lexicon_dir, self._model_dir)
        if stamp == self._stamp:
            return False
        fresh = Detector(self._lexicon_dir, self._model_dir)
        self.__dict__.update(fresh.__dict__)
        return True

    def verdict(self, analysis: Analysis, probability: float | None = None) -> Verdict:
        """The verdict for an analysed post; ``probability`` is the classifier's opinion
        when one ran (None: the rules alone decide). How the two combine is documented
        in :mod:`detectors.classifier` (the probability, within the rules' gate and frames)."""
        combined = None
        if probability is not None and self.model is not None:
            combined = self.model.combine(analysis, probability, self._scorer.gate_cap)
        return self._verdict(analysis, combined)

    def _verdict(self, analysis: Analysis, combined: Combined | None) -> Verdict:
        """``verdict`` once the model's opinion is combined (None: no model opinion)."""
        signals, scored = analysis.signals, analysis.rule
        if combined is None:
            if signals is self._quiet:  # the stream's usual post
                return Verdict(flagged=False, score=scored.score, detector_version=self.version)
            if not (signals.terms or signals.contacts or signals.exposed or signals.bio_contacts):
                # the common case, nothing found: no evidence to gather
                return Verdict(
                    flagged=scored.flagged,
                    score=scored.score,
                    categories=list(scored.categories),
                    reasons=list(scored.reasons),
                    detector_version=self.version,
                )
        flagged, score, categories, reasons = (
            scored.flagged,
            scored.score,
            list(scored.categories),
            list(scored.reasons),
        )
        if combined is not None:
            flagged, score, reasons = combined.flagged, combined.score, [*reasons, combined.reason]
            if flagged and not (scored.flagged and categories):
                categories = flagged_categories(analysis)  # a flagged post has a category
        evidence = list(signals.terms)
        if signals.contacts:
            evidence += [_contact_evidence(c, CONTACT_FEATURE) for c in signals.contacts]
        if signals.exposed:
            evidence += [_contact_evidence(c, EXPOSED_FEATURE) for c in signals.exposed]
        evidence.sort(key=_EVIDENCE_ORDER)
        return Verdict(
            flagged=flagged,
            score=score,
            categories=categories,
            evidence=evidence,
            contacts=signals.contacts + signals.bio_contacts,
            reasons=reasons,
            detector_version=self.version,
        )

    def detect(self, text: str, bio: str | None = None) -> Verdict:
        """One post; the same verdict ``detect_many`` gives (prefer it for many posts).

        Its own path rather than a batch of one: the batch machinery (numpy screening)
        costs ~100 µs per call whatever the batch size, 15x a quiet post's own cost."""
        analysis = self.analyse(text, bio)
        if analysis.signals is self._quiet:
            return Verdict(flagged=False, score=self._nothing.score, detector_version=self.version)
        if self.model is None:
            return self.verdict(analysis)
        return self.verdict(analysis, self.model.score_batch([analysis])[0])

    def detect_many(self, posts: Sequence[tuple[str, str | None]]) -> list[Verdict]:
        """Verdicts for ``(text, bio)`` pairs, in order. Batched, because a model scores
        a batch far faster than the same posts one at a time; and only the candidates
        (posts with something to sell or a contact) reach the model at all. The quiet
        posts of a batch (nothing found: most of a stream) share one verdict object,
        like every verdict immutable by convention (:mod:`pipeline.models`)."""
        paused = gc.isenabled()
        if paused:  # see the note on the garbage collector at the top of the module
            gc.disable()
        try:
            return self._detect_many(posts)
        finally:
            if paused:
                gc.enable()

    def _detect_many(self, posts: Sequence[tuple[str, str | None]]) -> list[Verdict]:
        _, found = self._analyse_found(posts)
        quiet = self._quiet
        # a post with nothing found is never a model candidate and its verdict is the
        # same every time: built here, without an Analysis (what ``verdict`` returns)
        indices = [i for i, a in found.items() if a.signals is not quiet]
        analyses = [found[i] for i in indices]
        if self.model is None:
            verdicts = [self._verdict(a, None) for a in analyses]
        else:
            judged = self.model.judge_batch(analyses, self._scorer.gate_cap)
            verdicts = [self._verdict(a, c) for a, c in zip(analyses, judged, strict=True)]
        # one shared verdict for every quiet post of the batch: building one per post
        # (a struct and its four lists) was ≈ 6% of the batch's instructions. Verdicts
        # are immutable by convention (pipeline.models): nothing may mutate this one.
        out = [self._quiet_verdict] * len(posts)
        for i, v in zip(indices, verdicts, strict=True):
            out[i] = v
        return out

    def bio_contacts(self, bio: str) -> list[Contact]:
        """Private contacts in an author's bio (offsets index the bio, ``in_bio=True``)."""
        return self._bio_contacts(bio, None)

    def _bio_contacts(self, bio: str, folded: str | None) -> list[Contact]:
        if folded is None:
            folded = self._normalizer.fold(bio)
        if not self._contacts.candidate(folded):
            return []
        found, _ = self._contacts.extract(bio, folded, bio=True)
        return [msgspec.structs.replace(c, in_bio=True) for c in found]


def _evidence_list(text: str, nt: NormText, hits: list[Hit]) -> list[Evidence]:
    """``Detector._evidence`` for every hit of one post, with the offset map fetched once."""
    if not hits:
        return []
    starts, ends = nt.span_map()
    out = []
    for start, end, entry in hits:
        a = starts[start]
        b = ends[end - 1] if ends is not None else starts[end - 1] + 1
        out.append(
            Evidence(
                start=a,
                end=b,
                text=text[a:b],
                feature=entry.feature,
                category=entry.category,
                weight=entry.weight,
            )
        )
    return out


def _stamp(lexicon_dir: Path | None, model_dir: Path | None) -> tuple[tuple[str, int, int], ...]:
    """Size and mtime of every lexicon and model file: what ``reload`` compares."""
    out = []
    models = sorted(model_dir.glob("*")) if model_dir is not None and model_dir.is_dir() else []
    for path in [*lexicon_files(lexicon_dir), *models]:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        out.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _contact_evidence(contact: Contact, feature: str) -> Evidence:
    return Evidence(
        start=contact.start,
        end=contact.end,
        text=contact.value,
        feature=feature,
    )
