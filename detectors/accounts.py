"""Account risk: fold scored posts into one account, and score whole account files.

Why a fold over state instead of counters: delivery is at-least-once, so the same post
can arrive twice (after a crash, a rebalance, a re-scan). Every figure here is recomputed
from ``AccountRisk.post_scores`` (keyed by post key) and set unions, so folding a post
twice gives exactly the same risk as folding it once.

What an account adds to its posts:

- **Bio funnel** — a post that sells and sends readers to the profile ("主页有联系方式",
  "点头像") from an account whose bio holds a private contact is scored at least
  ``funnel_floor``: the post sells, the bio converts. Decided per post (the verdict carries
  the bio contacts), so it stays idempotent in the live fold.
- **Weak-link inputs** — the fold keeps, per account, the template fold of its ad-like
  posts (the ``template_max_kept`` best scored, one per distinct fold) and the snippets after
  each "@" (at most ``max_mentions``): see :mod:`detectors.weak_links`. Idempotent like
  the rest: a post's template is keyed by its post key, and mentions are a capped,
  sorted set union.
- **Template reuse** (``score_accounts`` and the live ring job: it needs every account at
  once) — the same ad copy posted by several accounts raises each of them by
  ``template_bonus`` and weakly links them. Live, the job sends each account whose answer
  changed an ``AccountFact`` down its own stream, and :func:`apply_fact` sets
  ``AccountRisk.shares_template``; the fold then adds the bonus every time it recomputes
  the score, so facts and posts commute (a fact applied before or after a post gives the
  same risk) and replays stay harmless.
- **Rings** (``score_accounts``; live: :mod:`pipeline.rings.job`) — see
  :mod:`detectors.rings`.

Knobs live in ``lexicon/accounts.toml`` and the ``[account]`` section of ``scoring.toml``.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from detectors.lexicon import load_lexicon
from detectors.rings import WeakGroup, WeakLink, find_rings
from detectors.templates import TemplateConfig
from detectors.weak_links import (
    mention_links,
    mention_snippets,
    shared_templates,
    template_links,
    template_peers,
    template_text,
)
from pipeline.models import (
    CATEGORIES,
    AccountFact,
    AccountRisk,
    Contact,
    Post,
    Verdict,
    template_scores,
)

if TYPE_CHECKING:
    from detectors.detector import Detector

ACCOUNTS_TOML = Path(__file__).parent / "lexicon" / "accounts.toml"
BATCH = 500  # detect_many batch size, as the runner uses
FUNNEL_REASON = "简介留私下联系方式, 帖子引流到主页"
TEMPLATE_REASON = "与其他账号发布相同的广告模板"


@functools.cache
def _accounts_config(path: Path = ACCOUNTS_TOML) -> dict[str, Any]:
    return tomllib.loads(path.read_text("utf-8")) if path.exists() else {}


def _tuple(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if value is not None else default


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """The ``[account]`` section of ``scoring.toml``, the post threshold, and
    ``accounts.toml`` (funnel, template, ring)."""

    post_threshold: float = 0.5
    high_score: float = 0.7
    moderate_posts: int = 2
    flagged_post_bonus: float = 0.04
    max_bonus_posts: int = 5
    max_post_scores: int = 500
    max_contacts: int = 50
    funnel_places: tuple[str, ...] = ("主页", "头像", "简介", "置顶")
    funnel_sales_families: tuple[str, ...] = (
        "outcome_promise",
        "risk_reversal",
        "fee",
        "authority_costume",
        "policy_hook",
        "card_collection",
        "complaint_coaching",
        "service_offer",
    )
    funnel_min_post_score: float = 0.3
    funnel_floor: float = 0.85
    template: TemplateConfig = field(default_factory=TemplateConfig)
    template_min_post_score: float = 0.3
    template_bonus: float = 0.15
    template_max_kept: int = 8
    template_chars: int = 600
    template_peers_kept: int = 20
    mention_chars: int = 24
    max_mentions: int = 20
    negative_frames: tuple[str, ...] = (
        "warning_frame",
        "news_frame",
        "exposure_frame",
        "grievance_frame",
    )
    generic_link_hosts: frozenset[str] = frozenset()
    ring_requires_flagged: bool = True
    weak_links_to_attach: int = 2

    @classmethod
    def from_scoring(
        cls, scoring: dict[str, Any], accounts: dict[str, Any] | None = None
    ) -> AccountPolicy:
        a, d = scoring.get("account", {}), cls()
        cfg = _accounts_config() if accounts is None else accounts
        fun, tpl, ring = cfg.get("funnel", {}), cfg.get("template", {}), cfg.get("ring", {})
        men = cfg.get("mention", {})
        return cls(
            post_threshold=float(scoring.get("threshold", d.post_threshold)),
            high_score=float(a.get("high_score", d.high_score)),
            moderate_posts=int(a.get("moderate_posts", d.moderate_posts)),
            flagged_post_bonus=float(a.get("flagged_post_bonus", d.flagged_post_bonus)),
            max_bonus_posts=int(a.get("max_bonus_posts", d.max_bonus_posts)),
            max_post_scores=int(a.get("max_post_scores", d.max_post_scores)),
            max_contacts=int(a.get("max_contacts", d.max_contacts)),
            funnel_places=_tuple(fun.get("places"), d.funnel_places),
            funnel_sales_families=_tuple(fun.get("sales_families"), d.funnel_sales_families),
            funnel_min_post_score=float(fun.get("min_post_score", d.funnel_min_post_score)),
            funnel_floor=float(fun.get("post_floor", d.funnel_floor)),
            template=TemplateConfig(
                threshold=float(tpl.get("threshold", d.template.threshold)),
                min_shingles=int(tpl.get("min_shingles", d.template.min_shingles)),
            ),
            template_min_post_score=float(tpl.get("min_post_score", d.template_min_post_score)),
            template_bonus=float(tpl.get("bonus", d.template_bonus)),
            template_max_kept=int(tpl.get("max_kept", d.template_max_kept)),
            template_chars=int(tpl.get("fold_chars", d.template_chars)),
            template_peers_kept=int(tpl.get("peers_kept", d.template_peers_kept)),
            mention_chars=int(men.get("chars", d.mention_chars)),
            max_mentions=int(men.get("max_kept", d.max_mentions)),
            negative_frames=_tuple(ring.get("negative_frames"), d.negative_frames),
            generic_link_hosts=frozenset(
                _tuple(ring.get("generic_link_hosts"), tuple(d.generic_link_hosts))
            ),
            ring_requires_flagged=bool(ring.get("require_flagged", d.ring_requires_flagged)),
            weak_links_to_attach=int(ring.get("weak_links_to_attach", d.weak_links_to_attach)),
        )


@functools.cache
def default_policy(lexicon_dir: Path | None = None) -> AccountPolicy:
    return AccountPolicy.from_scoring(load_lexicon(lexicon_dir).scoring)


def is_funnel(text: str, verdict: Verdict, policy: AccountPolicy) -> bool:
    """The post sells, is not framed as a warning / news / exposure, points to the
    profile, and the author's bio holds a private contact."""
    if verdict.score < policy.funnel_min_post_score:
        return False
    if not any(c.in_bio for c in verdict.contacts):
        return False
    features = {e.feature for e in verdict.evidence}
    return (
        not features.isdisjoint(policy.funnel_sales_families)
        and features.isdisjoint(policy.negative_frames)
        and any(place in text for place in policy.funnel_places)
    )


def post_score(text: str, verdict: Verdict, policy: AccountPolicy) -> float:
    """The post's weight in its account: its verdict score, lifted by a bio funnel, and
    on the account's scale: the detector may flag at its own threshold (a calibrated
    model's), so a flagged post counts at least ``post_threshold`` and an unflagged one
    stays below it. The account then counts exactly the posts the detector flagged."""
    return _post_score(text, verdict, policy)[0]


def _post_score(text: str, verdict: Verdict, policy: AccountPolicy) -> tuple[float, bool]:
    """:func:`post_score`, and whether the bio funnel lifted it."""
    score = float(verdict.score)
    if score < policy.funnel_floor and is_funnel(text, verdict, policy):
        return policy.funnel_floor, True
    if verdict.flagged:
        score = max(score, policy.post_threshold)
    elif score >= policy.post_threshold:
        score = policy.post_threshold - 0.001
    return round(score, 4), False


def linking_contacts(verdict: Verdict, policy: AccountPolicy) -> set[str]:
    """Canonical contacts this post lends to ring linking: its author's bio contacts, and
    its own contacts only when the detector flagged it. Exposed contacts are never in
    ``verdict.contacts``; an unflagged post (a warning, a victim's story, a question
    about a contact) names a shop's contact without being the shop. A bare link to a big
    public site (``generic_link_hosts``) names no shop and lends nothing."""
    return {
        c.canonical
        for c in verdict.contacts
        if (c.in_bio or verdict.flagged) and _names_a_shop(c, policy)
    }


def _names_a_shop(contact: Contact, policy: AccountPolicy) -> bool:
    if not contact.canonical:
        return False
    return contact.kind != "link" or _bare_host(contact.canonical) not in policy.generic_link_hosts


def _bare_host(canonical: str) -> str:
    """``link:www.baidu.com/`` → ``baidu.com``; "" when the link has a path."""
    host = canonical.partition(":")[2].removeprefix("www.").rstrip("/")
    return "" if "/" in host else host


def _kept_templates(
    kept: dict[str, str], scores: dict[str, float], post: Post, score: float, p: AccountPolicy
) -> dict[str, str]:
    """``kept`` after ``post`` (scored ``score``; ``scores`` already holds it): its old
    entry dropped, then its fold added if the post is ad-like enough; entries whose post
    left ``scores`` go too. One post per distinct fold, and at most ``template_max_kept``
    folds: the best ranked (highest score, then smallest post key), never "the newest".
    A rank does not depend on arrival order, and the scale-out workers replay posts after
    a crash in another order than the embedded runner folds them: both must keep the same
    templates (``tests/integration/test_scaleout.py``)."""
    if score < p.template_min_post_score and post.key not in kept and kept.keys() <= scores.keys():
        return kept  # the usual post: nothing to add, nothing to drop, no copy
    out = {k: f for k, f in kept.items() if k != post.key and k in scores}
    if score < p.template_min_post_score:
        return out
    folded = template_text(post.text, p.template_chars, p.template.min_shingles, p.template.shingle)
    if folded is None:
        return out
    same = next((k for k, f in out.items() if f == folded), None)
    if same is not None:
        if (-scores[same], same) < (-score, post.key):
            return out
        del out[same]
    out[post.key] = folded
    if len(out) > p.template_max_kept:
        ranked = sorted(out, key=lambda k: (-scores[k], k))[: p.template_max_kept]
        out = {k: out[k] for k in ranked}
    return out


def _kept_mentions(kept: list[str], text: str, p: AccountPolicy) -> list[str]:
    """``kept`` ∪ the post's mention snippets, sorted, cut to ``max_mentions``: a set
    union, so folding a post twice keeps what folding it once kept."""
    if "@" not in text:
        return kept
    found = mention_snippets(text, p.mention_chars)
    if found.issubset(kept):
        return kept
    return sorted(found.union(kept))[: p.max_mentions]


def kept_templates(risk: AccountRisk) -> dict[str, float]:
    """The account's kept template folds → the score of the post that holds each: the
    input of :func:`detectors.weak_links.shared_templates`."""
    return template_scores(risk.templates, risk.post_scores)


def with_template_bonus(score: float, policy: AccountPolicy) -> float:
    """An account score raised for sharing a counted ad template (once per account: the
    signal is "this copy is an ad", not "this copy is popular")."""
    return round(min(1.0, score + policy.template_bonus), 4)


class _Totals(NamedTuple):
    """What an account's figures are, recomputed from its post scores each time."""

    score: float
    flagged: bool
    flagged_posts: int
    top: float
    summary: str

    @classmethod
    def of(cls, scores: dict[str, float], shares_template: bool, p: AccountPolicy) -> _Totals:
        values = scores.values()
        flagged_posts = sum(map(p.post_threshold.__le__, values))  # s >= threshold, in C
        top = max(values)
        extra = min(max(flagged_posts - 1, 0), p.max_bonus_posts)
        score = round(min(1.0, top + p.flagged_post_bonus * extra), 4)
        flagged = top >= p.high_score or flagged_posts >= p.moderate_posts
        summary = f"{flagged_posts}/{len(scores)} 条帖子被标记, 最高帖子分 {top:.2f}"
        if shares_template:  # as the scan raises it (``_apply_templates``)
            score = with_template_bonus(score, p)
            flagged = flagged or score >= p.high_score
            summary += f", {TEMPLATE_REASON}"
        return cls(score, flagged, flagged_posts, top, summary)


def apply_fact(
    risk: AccountRisk, fact: AccountFact, policy: AccountPolicy | None = None
) -> AccountRisk:
    """The account's risk once the ring job's ``fact`` holds: the template bonus added
    (or taken back), the score and the summary reason recomputed.

    The flag is the job's last word and posts never change it; the bonus applies while
    the flag is set *and* the account keeps a template (one whose posts all left has none
    to share). Both the fold and this function derive the bonus from those two, so a fact
    and a post give the same risk in either order."""
    p = policy or default_policy()
    shares = fact.shares_template
    if shares == risk.shares_template:
        return risk
    if not risk.post_scores:
        return msgspec.structs.replace(risk, shares_template=shares)
    totals = _Totals.of(risk.post_scores, shares and bool(risk.templates), p)
    return msgspec.structs.replace(
        risk,
        score=totals.score,
        flagged=totals.flagged,
        shares_template=shares,
        reasons=[totals.summary, *risk.reasons[1:]],
    )


def fold_post(
    risk: AccountRisk | None,
    post: Post,
    verdict: Verdict,
    policy: AccountPolicy | None = None,
) -> AccountRisk:
    """The account's risk after ``post`` (scored as ``verdict``) is taken into account.

    A post already folded with the same score is a replay (at-least-once delivery) and
    changes nothing: not the top post's reasons, not the name or bio, not the order of
    ``post_scores``. A replayed stretch can arrive after later posts (a worker finishing
    a batch of partitions it just lost, a producer retry), and letting a late copy count
    as the newest post made the stored account depend on delivery history. A post whose
    score changed (a re-scan with another model) is an update and moves to the end."""
    p = policy or default_policy()
    if risk is None:
        risk = AccountRisk(platform=post.platform, account_id=post.author_id or "")
    score, funnel = _post_score(post.text, verdict, p)
    key = post.key
    previous = risk.post_scores.get(key)
    if previous == score:
        return risk
    scores = dict(risk.post_scores)  # one C-level copy: accounts hold up to 500 posts
    if previous is not None:
        del scores[key]
    scores[key] = score
    while len(scores) > p.max_post_scores:  # oldest first: dicts keep insertion order
        del scores[next(iter(scores))]

    templates = _kept_templates(risk.templates, scores, post, score, p)
    totals = _Totals.of(scores, risk.shares_template and bool(templates), p)
    top = totals.top

    categories = risk.categories
    if score >= p.post_threshold and not set(verdict.categories).issubset(categories):
        cats = set(categories).union(verdict.categories)
        categories = [c for c in CATEGORIES if c in cats]
    contacts = risk.contacts
    lent = linking_contacts(verdict, p) if verdict.contacts else set()
    if not lent.issubset(contacts):
        contacts = sorted(lent.union(contacts))[: p.max_contacts]
    if score >= top:
        top_reasons = [FUNNEL_REASON, *verdict.reasons] if funnel else verdict.reasons
    else:
        top_reasons = risk.reasons[1:]

    first, last = risk.first_seen, risk.last_seen
    seen = post.created_at or post.collected_at
    if seen is not None:
        first = seen if first is None or seen < first else first
        last = seen if last is None or seen > last else last
    return msgspec.structs.replace(
        risk,
        nickname=post.author_name or risk.nickname,
        bio=post.author_bio if post.author_bio is not None else risk.bio,
        score=totals.score,
        flagged=totals.flagged,
        categories=categories,
        contacts=contacts,
        post_scores=scores,
        templates=templates,
        mentions=_kept_mentions(risk.mentions, post.text, p),
        flagged_posts=totals.flagged_posts,
        total_posts=len(scores),
        reasons=[totals.summary, *top_reasons],
        first_seen=first,
        last_seen=last,
    )


@dataclass(slots=True)
class _Scored:
    """One account of a ``score_accounts`` input while it is being scored."""

    risk: AccountRisk
    score: float = 0.0
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)


def _verdicts(detector: Detector, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
    out: list[Verdict] = []
    for start in range(0, len(pairs), BATCH):
        out += detector.detect_many(pairs[start : start + BATCH])
    return out


def _fold_accounts(
    accounts: Sequence[dict[str, Any]], detector: Detector, policy: AccountPolicy
) -> list[_Scored]:
    pairs = [(str(i["text"]), a.get("bio")) for a in accounts for i in a.get("posts") or []]
    verdicts = iter(_verdicts(detector, pairs))
    scored = []
    for account in accounts:
        platform = str(account.get("platform") or "unknown")
        account_id = str(account["account_id"])
        bio, nickname = account.get("bio"), account.get("nickname")
        risk = AccountRisk(platform=platform, account_id=account_id, nickname=nickname, bio=bio)
        for item in account.get("posts") or []:
            post = Post(
                platform=platform,
                post_id=str(item["id"]),
                text=str(item["text"]),
                author_id=account_id,
                author_name=nickname,
                author_bio=bio,
            )
            verdict = next(verdicts)
            risk = fold_post(risk, post, verdict, policy)
        if bio:  # an account with no posts can still share its bio contact with a ring
            found = detector.bio_contacts(bio)
            bio_contacts = {c.canonical for c in found if _names_a_shop(c, policy)}
            merged = sorted(set(risk.contacts) | bio_contacts)[: policy.max_contacts]
            risk = msgspec.structs.replace(risk, contacts=merged)
        scored.append(
            _Scored(
                risk,
                score=risk.score,
                flagged=risk.flagged,
                reasons=list(risk.reasons),
            )
        )
    return scored


def _apply_templates(scored: list[_Scored], policy: AccountPolicy) -> list[WeakGroup]:
    """Raise accounts that post an ad template other accounts post too; return the weak
    links between the accounts that share one. The inputs are what the fold kept
    (:func:`kept_templates`), exactly what the live ring job reads."""
    templates = {s.risk.key: kept_templates(s.risk) for s in scored if s.risk.templates}
    shared = shared_templates(templates, policy.template, policy.post_threshold)
    peers = template_peers(shared, limit=0)
    for s in scored:
        if s.risk.key not in peers:
            continue
        s.score = with_template_bonus(s.score, policy)
        s.flagged = s.flagged or s.score >= policy.high_score
        s.reasons.append(f"与 {peers[s.risk.key][0]} 个账号发布相同的广告模板")
    return template_links(shared)


def _mention_links(scored: list[_Scored]) -> list[WeakLink]:
    """@-mentions between the scored accounts, from the snippets the fold kept."""
    return mention_links(
        {s.risk.key: (s.risk.nickname, s.risk.account_id) for s in scored},
        {s.risk.key: s.risk.mentions for s in scored if s.risk.mentions},
    )


def score_accounts(
    accounts: Iterable[dict[str, Any]], detector: Detector | None = None
) -> list[dict[str, Any]]:
    """``radar scan --accounts``: score each account, then find rings across all of them.

    Each input is ``{"account_id", "platform", "nickname", "bio", "posts": [{"id",
    "text"}]}`` (already validated); outputs keep the input order."""
    if detector is None:
        from detectors.detector import Detector

        detector = Detector()
    policy = AccountPolicy.from_scoring(detector.lexicon.scoring)
    scored = _fold_accounts(list(accounts), detector, policy)
    templates = _apply_templates(scored, policy)
    eligible = {s.risk.key for s in scored if s.flagged}
    rings = find_rings(
        {s.risk.key: set(s.risk.contacts) for s in scored},
        _mention_links(scored),
        eligible if policy.ring_requires_flagged else None,
        policy.weak_links_to_attach,
        templates,
    )
    sizes: dict[str, int] = {}
    for m in rings.values():
        sizes[m.ring] = sizes.get(m.ring, 0) + 1
    out = []
    for s in scored:
        reasons = list(s.reasons)
        ring = rings.get(s.risk.key)
        if ring and ring.contacts:
            others = sizes[ring.ring] - 1
            reasons.append(f"与 {others} 个账号共用联系方式: {', '.join(ring.contacts[:3])}")
        elif ring:
            reasons.append(f"通过提及/模板关联到团伙: {', '.join(ring.weak[:3])}")
        out.append(
            {
                "account_id": s.risk.account_id,
                "platform": s.risk.platform,
                "flagged": s.flagged,
                "score": round(s.score, 4),
                "categories": s.risk.categories,
                "reasons": reasons,
                "ring": ring.ring if ring else None,
            }
        )
    return out
