"""The one schema every package imports: posts, accounts, verdicts, reviews, search,
alerts and takedown lists.

Why msgspec: every post crosses this schema at least three times (decode from a source,
encode into the store, decode for the dashboard), so per-post cost bounds the whole
pipeline. Measured by ``bench/models.py`` on this machine (2 cores, shared with other
work) for a 90-character post with author fields: msgspec typed JSON decode 3.0 µs/post
and encode 0.8 µs; pydantic v2 ``model_validate_json`` 6.7 µs (2.2×) and
``model_dump_json`` 5.7 µs; orjson into a dataclass, unvalidated, 6.1 µs (2.0×);
``dataclasses.asdict`` + orjson 46 µs (15×). msgspec also gives one-line validation errors
with the JSON path (``Expected `str`, got `int` - at `$.text```), which the settings and
bad-input reports reuse.

Structs are immutable by convention (stages build new ones with ``msgspec.structs.replace``)
so that the in-process runner and the faust agents can share them without copying.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import msgspec

CATEGORIES: tuple[str, ...] = ("surrender", "debt", "credit", "complaint", "other_scheme")
Category = Literal["surrender", "debt", "credit", "complaint", "other_scheme"]
CATEGORY_LABELS_ZH: dict[str, str] = {
    "surrender": "代理退保",
    "debt": "债务优化/停息挂账",
    "credit": "征信修复",
    "complaint": "代理投诉",
    "other_scheme": "其他代理维权",
}

# Longest text we keep for one post. Longer texts are cut here and counted, so one hostile
# 50 MB "post" cannot stall the detector or bloat the index.
MAX_TEXT_CHARS = 20_000
MAX_BIO_CHARS = 2_000


class ReviewStatus(enum.StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    REPORTED = "reported"
    TAKEN_DOWN = "taken_down"


REVIEW_LABELS_ZH: dict[str, str] = {
    "new": "待审核",
    "confirmed": "已确认",
    "dismissed": "已排除",
    "reported": "已举报",
    "taken_down": "已下架",
}


def post_key(platform: str, post_id: str) -> str:
    """Identity of a post across runs and runners: every write upserts on this key."""
    return f"{platform}:{post_id}"


def account_key(platform: str, account_id: str) -> str:
    """Identity of an account; also the Kafka partition key so aggregation stays local."""
    return f"{platform}:{account_id}"


class Post(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A public post as collected. ``created_at`` is UTC; the platform's own string is kept
    in ``created_raw`` because platforms disagree on formats and investigators cite them."""

    platform: str
    post_id: str
    text: str
    source: str = ""
    author_id: str | None = None
    author_name: str | None = None
    author_bio: str | None = None
    url: str | None = None
    created_at: datetime | None = None
    created_raw: str | None = None
    collected_at: datetime | None = None
    truncated: bool = False
    # Engagement as the platform showed it when collected ("1.2万" → 12000), e.g. reposts,
    # comments, likes, views. Informational only: not part of the post's identity.
    counts: dict[str, int] | None = None

    @property
    def key(self) -> str:
        return post_key(self.platform, self.post_id)

    @property
    def account_key(self) -> str | None:
        if not self.author_id:
            return None
        return account_key(self.platform, self.author_id)


class Evidence(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A span of the *original* text (Python str indices) and the feature it supports."""

    start: int
    end: int
    text: str
    feature: str
    category: str | None = None
    weight: float = 0.0


class Contact(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A private contact found in a post. ``canonical`` folds the five ways one WeChat id
    can be written into one key, so accounts sharing it can be linked."""

    kind: Literal["wechat", "qq", "phone", "link"]
    value: str
    start: int
    end: int
    canonical: str = ""
    in_bio: bool = False


class Verdict(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the detector says about one post, and why."""

    flagged: bool
    score: float
    categories: list[str] = msgspec.field(default_factory=list)
    evidence: list[Evidence] = msgspec.field(default_factory=list)
    contacts: list[Contact] = msgspec.field(default_factory=list)
    reasons: list[str] = msgspec.field(default_factory=list)
    detector_version: str = ""


class ScoredPost(msgspec.Struct, kw_only=True):
    """The unit that flows from the detect stage to the store (and over Kafka)."""

    post: Post
    verdict: Verdict


class AccountRisk(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Aggregated risk of one account.

    ``post_scores`` maps post key → score for the posts seen, so re-delivering a post
    (at-least-once) overwrites its own entry instead of counting twice.
    """

    platform: str
    account_id: str
    nickname: str | None = None
    bio: str | None = None
    score: float = 0.0
    flagged: bool = False
    categories: list[str] = msgspec.field(default_factory=list)
    contacts: list[str] = msgspec.field(default_factory=list)
    post_scores: dict[str, float] = msgspec.field(default_factory=dict)
    flagged_posts: int = 0
    total_posts: int = 0
    reasons: list[str] = msgspec.field(default_factory=list)
    ring: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # Weak-link inputs the fold keeps for the ring job (:mod:`detectors.weak_links`):
    # post key → the template fold of an ad-like post's text (one per distinct fold), and
    # the text after each "@" in the account's posts (sorted, capped).
    templates: dict[str, str] = msgspec.field(default_factory=dict)
    mentions: list[str] = msgspec.field(default_factory=list)
    # Set by an ``AccountFact`` from the ring job: one of ``templates`` is a counted ad
    # template other accounts post too; ``score`` carries the template bonus while this
    # is set and ``templates`` is not empty.
    shares_template: bool = False
    # Filled by account reads from the last ring job, like ``ring`` (the fold never writes
    # them): the weak links ("kind:account") that attached the account to its ring, and
    # the accounts posting the same counted ad template.
    ring_weak: list[str] = msgspec.field(default_factory=list)
    template_peers: list[str] = msgspec.field(default_factory=list)
    # The account's current review, filled only by reads that join it
    # (``Store.accounts_with_status``); it is not part of the risk, so writers leave it None.
    review: Review | None = None

    @property
    def key(self) -> str:
        return account_key(self.platform, self.account_id)


def template_scores(
    templates: Mapping[str, str], post_scores: Mapping[str, float]
) -> dict[str, float]:
    """An account's kept template folds (``AccountRisk.templates``: post key → fold) as
    fold → the best score of a post holding it: what the ring job groups templates by.
    A kept post no longer among ``post_scores`` counts for nothing."""
    out: dict[str, float] = {}
    for post_key, folded in templates.items():
        score = post_scores.get(post_key)
        if score is not None and score > out.get(folded, -1.0):
            out[folded] = float(score)
    return out


def account_review_target(key: str) -> str:
    """Review target of an account. Post and account keys share the ``platform:id`` shape,
    so account decisions carry a prefix and can never change a post's status."""
    return f"account:{key}"


class Review(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An investigator's decision: ``target`` is a post key, or an account's
    :func:`account_review_target`."""

    target: str
    status: ReviewStatus
    note: str = ""
    reviewer: str = ""
    at: datetime | None = None


class SearchQuery(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Filters shared by the JSON API, the dashboard and ``radar search``."""

    q: str = ""
    category: str | None = None
    platform: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    status: ReviewStatus | None = None
    flagged_only: bool = True
    page: int = 1
    page_size: int = 20


class SearchHit(msgspec.Struct, kw_only=True):
    post: Post
    verdict: Verdict
    status: ReviewStatus = ReviewStatus.NEW
    # The post text cut into fragments ``(text, mark)``: mark is "" for plain text, "q" for
    # a query match, or the evidence feature name. Structured rather than pre-rendered HTML
    # so each renderer (Jinja2, terminal, JSON) escapes on its own terms.
    highlight: list[tuple[str, str]] = msgspec.field(default_factory=list)


class SearchResult(msgspec.Struct, kw_only=True):
    total: int
    results: list[SearchHit]
    facets: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)


class Reject(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A record a source could not turn into a post: counted, reported, never fatal."""

    source: str
    location: str
    reason: str
    sample: str = ""
    at: datetime | None = None


class StoreStats(msgspec.Struct, kw_only=True):
    posts: int
    flagged_posts: int
    accounts: int
    flagged_accounts: int
    rejects: int
    by_category: dict[str, int] = msgspec.field(default_factory=dict)
    by_platform: dict[str, int] = msgspec.field(default_factory=dict)


class SourceState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A source's checkpoint and counters; advanced only after its posts are handed on."""

    name: str
    cursor: str | None = None
    updated_at: datetime | None = None
    posts_total: int = 0
    bad_records: int = 0
    last_error: str | None = None


# -- alerts (pipeline/alerts): what a rule found and its delivery state ----------------


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


AlertKind = Literal["account", "post"]
AlertChannel = Literal["email", "webhook"]


class Span(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A matched span, as offsets into :attr:`Excerpt.snippet` (Python str indices)."""

    start: int
    end: int
    feature: str
    text: str = ""


class Excerpt(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One post's evidence, cut to a readable window around what the detector matched."""

    post_key: str
    snippet: str
    spans: list[Span] = msgspec.field(default_factory=list)
    url: str | None = None
    score: float = 0.0
    categories: list[str] = msgspec.field(default_factory=list)
    contacts: list[str] = msgspec.field(default_factory=list)
    created_at: datetime | None = None
    cut_before: bool = False  # the snippet starts after the post's start ("…")
    cut_after: bool = False


class Alert(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One alert for one channel.

    ``dedupe_key`` is ``rule:account_key`` (``rule:post_key`` for a post without an
    author); the outbox records at most one alert per (``dedupe_key``, ``channel``) within
    ``realert_hours``. ``id`` is given by the outbox (``dedupe_key#channel#n``).
    """

    dedupe_key: str
    rule: str
    kind: AlertKind
    created_at: datetime
    platform: str
    score: float
    id: str = ""
    channel: AlertChannel = "email"
    account_key: str | None = None
    account_id: str | None = None
    nickname: str | None = None
    post_key: str | None = None  # the post that fired a ``post_flagged`` rule
    categories: list[str] = msgspec.field(default_factory=list)
    reasons: list[str] = msgspec.field(default_factory=list)
    evidence: list[Excerpt] = msgspec.field(default_factory=list)
    contacts: list[str] = msgspec.field(default_factory=list)
    recipients: list[str] = msgspec.field(default_factory=list)
    realert_hours: float = 72.0
    status: AlertStatus = AlertStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


class DeliveryReport(msgspec.Struct, kw_only=True):
    """What one :meth:`AlertSender.deliver_due` pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


# -- takedown lists (pipeline/takedown): what is sent to a platform and kept -----------

# ``2026-11-23-weibo-1a2b3c4d``: the local date it was produced, the platform slug and a
# hash of its accounts. Checked before an id reaches a store or a file name.
LIST_ID = re.compile(r"^\d{4}-\d{2}-\d{2}-[a-z0-9_]+(?:-[a-z0-9_]+)*-[0-9a-f]{8}$")
TAKEDOWN_MAX_EVIDENCE = 5


def valid_list_id(value: str) -> bool:
    return len(value) <= 80 and LIST_ID.fullmatch(value) is not None


class TakedownEvidence(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One post that shows why the account should go: where it is and what it says."""

    post_key: str
    url: str | None = None
    excerpt: str = ""
    score: float = 0.0
    posted_at: datetime | None = None


class TakedownEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One account on a list. ``categories`` are zh labels (the platform reads them);
    ``contacts`` are ``kind:value`` canonical keys."""

    key: str
    platform: str
    account_id: str
    nickname: str | None = None
    profile_url: str | None = None
    score: float = 0.0
    categories: list[str] = msgspec.field(default_factory=list)
    reasons: list[str] = msgspec.field(default_factory=list)
    contacts: list[str] = msgspec.field(default_factory=list)
    evidence: list[TakedownEvidence] = msgspec.field(default_factory=list)
    confirmed_by: str = ""
    confirmed_at: datetime | None = None


class TakedownList(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The accounts of one platform confirmed since the previous list. ``period`` is the
    local date span of their confirmations (``2026-11-16~2026-11-23``)."""

    id: str
    platform: str
    created_at: datetime
    period: str = ""
    entries: list[TakedownEntry] = msgspec.field(default_factory=list)

    @property
    def accounts(self) -> list[str]:
        return [entry.key for entry in self.entries]

    def summary(self) -> TakedownSummary:
        return TakedownSummary(
            id=self.id,
            platform=self.platform,
            created_at=self.created_at,
            period=self.period,
            count=len(self.entries),
            accounts=self.accounts,
        )


class TakedownSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A list without its entries' details: what the dashboard's index shows, and the
    account keys the job needs to recognise a list whose accounts were never marked."""

    id: str
    platform: str
    created_at: datetime
    period: str = ""
    count: int = 0
    accounts: list[str] = msgspec.field(default_factory=list)


# -- rings (pipeline/rings): accounts linked by a shared private contact ---------------


class AccountLinks(msgspec.Struct, frozen=True):
    """One page row of the ring job's input: an account's linking contacts (canonical,
    see :func:`detectors.accounts.linking_contacts`), whether it is flagged, and its
    weak-link inputs."""

    key: str
    contacts: list[str]
    flagged: bool = False
    # Weak-link inputs (see ``AccountRisk.templates`` / ``mentions``): the names others
    # @-mention it by, its account score, each kept template fold → that post's score.
    nickname: str | None = None
    score: float = 0.0
    templates: dict[str, float] = msgspec.field(default_factory=dict)
    mentions: list[str] = msgspec.field(default_factory=list)
    # Whether the stored score already carries the template bonus (``AccountFact``).
    shares_template: bool = False


class AccountFact(msgspec.Struct, frozen=True):
    """What only a job across accounts can know about one account (the ring job: "it
    shares a counted ad template"), sent down the account's own stream.

    Why a record and not a store update: the account's risk is the fold's (the faust
    table in the scale-out mode, the runner's cache in the embedded one), and only the
    fold's next write reaches the store, so a fact written beside it would be erased.
    Through the stream the fold applies it in order with the account's posts, on its
    own partition, in both modes (:func:`pipeline.stages.fold_accounts`)."""

    account_key: str
    shares_template: bool


class AccountFacts(msgspec.Struct, frozen=True):
    """One ``radar.posts.raw`` message of facts, all of one partition's accounts: a JSON
    object, so that it can never be read as a post or a bundle of posts."""

    account_facts: list[AccountFact]


class Ring(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A ring as the last ring job saved it: ``contacts`` are the canonical contacts its
    members share (sorted), ``size`` counts its members."""

    id: str
    size: int
    contacts: list[str] = msgspec.field(default_factory=list)
    found_at: datetime | None = None
