"""The one schema every package imports: posts, accounts, verdicts, reviews, search.

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

    @property
    def key(self) -> str:
        return account_key(self.platform, self.account_id)


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
