"""Combine feature families into a score, a flag and zh-CN reasons.

Why families and a gate rather than a word list: every word the black market uses is
also used by the people it preys on and by those who warn against it ("全额退保" appears in
the regulator's own warning). What the ads have and the others lack is the combination:
something sold (a scheme term, an outcome promise) AND a private way in (a WeChat id, a
"私信我", a contact in the bio). The weights, caps and the gate live in ``scoring.toml``
so an analyst can read exactly why a post scored what it did.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

from detectors.contacts import describe
from detectors.lexicon import CONTEXT_FEATURE, SCHEME_FEATURE, Lexicon
from pipeline.models import CATEGORIES, Contact, Evidence

SHIELD_KINDS = frozenset({"wechat", "qq", "phone"})
CONTACT_LABEL_ZH = "私下联系方式"
BIO_LABEL_ZH = "简介联系方式"
_NONE: frozenset[str] = frozenset()
_WEIGHT = operator.attrgetter("weight")


@dataclass(slots=True)
class Scored:
    score: float
    flagged: bool
    categories: list[str]
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the scorer may look at for one post (all already on original offsets)."""

    terms: list[Evidence]  # lexicon hits (negated invitations already removed)
    contacts: list[Contact]  # private contacts in the post, not in an exposure frame
    exposed: list[Contact]  # contacts being exposed ("这个微信是骗子")
    bio_contacts: list[Contact]
    # lexicon hits in the author's bio (offsets index the bio): what the account sells
    bio_terms: list[Evidence] = field(default_factory=list)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Scorer:
    def __init__(self, lexicon: Lexicon) -> None:
        cfg = lexicon.scoring
        self._families = lexicon.families
        self._categories = lexicon.categories
        self.bias = float(cfg["bias"])
        self.threshold = float(cfg["threshold"])
        self.gate_cap = float(cfg["gate_cap"])
        c = cfg["contacts"]
        self._c_first, self._c_extra = float(c["first"]), float(c["extra"])
        self._c_cap, self._c_bio, self._c_link = float(c["cap"]), float(c["bio"]), float(c["link"])
        self._scheme_families = tuple(cfg["gate"]["scheme_families"])
        self.scheme_families = self._scheme_families
        self._bio_scheme = float(c.get("bio_scheme", 0.0))
        self._domain_families = frozenset(cfg["gate"].get("domain_families", ()))
        self._unshielded = frozenset(cfg["gate"].get("unshielded_families", ()))
        self._channel_families = tuple(cfg["gate"]["channel_families"])
        self._shield_families = tuple(cfg["gate"].get("shield_families", self._channel_families))
        self._strong_all = tuple(cfg["strong"]["all"])
        self._strong_any = tuple(cfg["strong"]["any"])
        self._strong_min = int(cfg["strong"]["min_families"])
        self._positive = [f for f in self._families.values() if f.polarity == "positive"]
        self._negative = [f for f in self._families.values() if f.polarity == "negative"]
        # what ``score`` asks per post, precomputed once: names in lexicon order, caps,
        # and the gate's family lists as sets (set operations instead of generator loops)
        self._positive_names = tuple(f.name for f in self._positive)
        self._negative_names = tuple(f.name for f in self._negative)
        self._caps = {name: f.cap for name, f in self._families.items()}
        self._family_labels = {name: f.label_zh for name, f in self._families.items()}
        self._category_order = tuple(c for c in CATEGORIES if c in self._categories)
        self._category_label = {c: self._categories[c].label_zh for c in self._category_order}.get
        self._shield_set = frozenset(self._shield_families)
        self._channel_set = frozenset(self._channel_families)
        self._scheme_set = frozenset(self._scheme_families)
        self._scheme_undomained = self._scheme_set - self._domain_families
        self._strong_all_set = frozenset(self._strong_all)
        self._strong_any_set = frozenset(self._strong_any)
        self._nothing = Scored(score=_sigmoid(self.bias), flagged=False, categories=[])

    def nothing(self) -> Scored:
        """The result for a post with no signal at all (a fresh object: callers own it)."""
        return Scored(self._nothing.score, False, [])

    def score(self, s: Signals) -> Scored:
        if not (s.terms or s.contacts or s.exposed or s.bio_contacts):
            return Scored(self._nothing.score, False, [])  # the common case: nothing at all
        by_family: dict[str, dict[str, Evidence]] = {}
        by_category: dict[str, dict[str, Evidence]] = {}
        named: set[str] = set()  # categories named by a scheme term or a scheme family
        domains: set[str] = set()  # categories the post is merely about ("保单", "网贷")
        families = self._families
        for ev in s.terms:
            feature, category = ev.feature, ev.category
            if feature == SCHEME_FEATURE and category:
                group = by_category.get(category)
                if group is None:
                    by_category[category] = {ev.text: ev}
                elif ev.text not in group:
                    group[ev.text] = ev
                named.add(category)
            elif feature == CONTEXT_FEATURE and category:
                domains.add(category)
            elif feature in families:
                group = by_family.get(feature)
                if group is None:
                    by_family[feature] = {ev.text: ev}
                elif ev.text not in group:
                    group[ev.text] = ev
                if category:
                    named.add(category)

        bio_sells = False
        for ev in s.bio_terms:
            if ev.feature == CONTEXT_FEATURE and ev.category:
                domains.add(ev.category)
            elif ev.feature == SCHEME_FEATURE or ev.feature in self._scheme_set:
                bio_sells = True

        # (C-level map / filter over the small dicts and tuples below rather than
        # comprehensions: each comprehension is a Python call in 3.11, and this runs for
        # every post that sells something; the sums add in the same order as before)
        logit = self.bias
        if bio_sells and not by_category:
            logit += self._bio_scheme
        if by_category:
            logit += max([max(map(_WEIGHT, evs.values())) for evs in by_category.values()])
        caps = self._caps
        present = list(filter(by_family.__contains__, self._positive_names)) if by_family else []
        for name in present:
            logit += min(caps[name], sum(map(_WEIGHT, by_family[name].values())))

        contacts = s.contacts
        if contacts:
            shield = {c.canonical for c in contacts if c.kind in SHIELD_KINDS}
            links = {c.canonical for c in contacts if c.kind not in SHIELD_KINDS}
        else:
            shield = links = _NONE
        if shield:
            logit += min(self._c_cap, self._c_first + self._c_extra * (len(shield) - 1))
        if links:
            logit += self._c_link if not shield else self._c_extra
        if s.bio_contacts:
            logit += self._c_bio

        # a private way in written in the post itself (a contact, a funnel to the profile,
        # a self-endorsement) shields it from "warning" discounts
        found = by_family.keys()
        text_channel = bool(shield) or not found.isdisjoint(self._shield_set)
        channel = (
            text_channel
            or bool(links)
            or bool(s.bio_contacts)
            or not found.isdisjoint(self._channel_set)
        )
        negatives = list(filter(by_family.__contains__, self._negative_names)) if by_family else []
        for name in negatives:
            if not text_channel or name in self._unshielded:
                total = sum(map(abs, map(_WEIGHT, by_family[name].values())))
                logit -= min(caps[name], total)

        sells = (
            bool(by_category)
            or bio_sells
            or not found.isdisjoint(self._scheme_set if domains else self._scheme_undomained)
        )
        strong = (
            self._strong_all_set <= found
            and not found.isdisjoint(self._strong_any_set)
            and len(present) >= self._strong_min
            and not negatives
        )
        score = _sigmoid(logit)
        gated = not ((sells and channel) or strong)
        if gated:
            score = min(score, self.gate_cap)
        flagged = score >= self.threshold
        # a flagged post also takes the categories of the domain it is about
        shown = named | domains if flagged else named
        categories = list(filter(shown.__contains__, CATEGORIES))

        reasons: list[str] = []
        family_labels = self._family_labels
        labels = list(
            map(self._category_label, filter(by_category.__contains__, self._category_order))
        )
        labels += map(family_labels.__getitem__, present)
        examples = _examples(by_category, by_family, present)
        if shield or links:
            labels.append(CONTACT_LABEL_ZH)
            examples += [describe(c) for c in _distinct(s.contacts)[:2]]
        if s.bio_contacts:
            labels.append(BIO_LABEL_ZH)
            examples += [describe(c) for c in _distinct(s.bio_contacts)[:1]]
        if labels:
            reasons.append("+".join(labels) + ": " + ", ".join(examples))
        for name in negatives:
            words = ", ".join(list(by_family[name])[:3])
            effect = "含私下联系方式或引流, 不降分" if text_channel else "无私下联系方式, 降低分数"
            reasons.append(f"{self._families[name].label_zh}: {words} ({effect})")
        if s.exposed:
            shown = ", ".join(describe(c) for c in _distinct(s.exposed)[:2])
            reasons.append(f"曝光语境中的联系方式, 不计为引流: {shown}")
        if gated and (sells or channel):
            missing = "私下联系方式或引流" if sells else "业务词或结果承诺"
            reasons.append(f"缺少{missing}, 不标记")
        return Scored(score=score, flagged=flagged, categories=categories, reasons=reasons)


def _examples(
    by_category: dict[str, dict[str, Evidence]],
    by_family: dict[str, dict[str, Evidence]],
    present: list[str],
) -> list[str]:
    """The first four texts, skipping any contained in one already shown (``text in s``
    also covers equality). Appends only, so it may stop at four."""
    seen: list[str] = []
    for group in [*by_category.values(), *(by_family[f] for f in present)]:
        for text in group:
            for shown in seen:
                if text in shown:
                    break
            else:
                seen.append(text)
                if len(seen) == 4:
                    return seen
    return seen


def _distinct(contacts: list[Contact]) -> list[Contact]:
    out: dict[str, Contact] = {}
    for c in contacts:
        out.setdefault(c.canonical, c)
    return list(out.values())
