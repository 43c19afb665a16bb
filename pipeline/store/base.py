"""The storage seam: the SQLite store (default) and the Elasticsearch store (scale-out)
both implement this, and everything user-facing (API, dashboard, ``radar search``,
takedown lists) talks only to it.

Every write is an idempotent upsert on post / account / source keys, because delivery is
at-least-once: the runner may hand the same batch twice after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from pipeline.models import (
    AccountLinks,
    AccountRisk,
    Reject,
    Review,
    ReviewStatus,
    Ring,
    ScoredPost,
    SearchHit,
    SearchQuery,
    SearchResult,
    SourceState,
    StoreStats,
    TakedownList,
    TakedownSummary,
)


class RingMembership(Protocol):
    """What :meth:`Store.save_rings` needs of one account's membership (the shape of
    :class:`detectors.rings.Membership`, which the store does not import)."""

    @property
    def ring(self) -> str: ...

    @property
    def contacts(self) -> Sequence[str]: ...

    @property
    def weak(self) -> Sequence[str]: ...


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None:
        """Create / migrate the schema; safe to call on an existing store."""

    async def close(self) -> None: ...

    async def write_batch(
        self,
        posts: Sequence[ScoredPost],
        accounts: Sequence[AccountRisk] = (),
        checkpoints: Sequence[SourceState] = (),
    ) -> None:
        """Upsert posts with their verdicts, account risks and source checkpoints in one
        durable step. When this returns, all of it survives a crash; checkpoints are in
        the same step so a checkpoint never runs ahead of the posts it covers."""

    async def record_rejects(self, rejects: Sequence[Reject]) -> None: ...

    async def get_accounts(self, keys: Sequence[str]) -> dict[str, AccountRisk]:
        """Current risk of the given account keys (``platform:account_id``); missing keys
        are absent from the result."""

    async def get_account(self, platform: str, account_id: str) -> AccountRisk | None: ...

    async def account_posts(
        self, platform: str, account_id: str, limit: int = 50
    ) -> list[SearchHit]: ...

    async def accounts_sharing_contacts(
        self, contacts: Sequence[str], exclude: str | None = None
    ) -> list[AccountRisk]:
        """Accounts whose posts or bio carry any of these canonical contacts."""

    # Rings: every account read above (and ``accounts_with_status``, ``ring_members``)
    # fills ``AccountRisk.ring``, ``ring_weak`` and ``template_peers`` from what the ring
    # job saved last, whatever the account was written with, so a live fold (which
    # cannot see other accounts) never erases or invents them.

    async def ring_inputs(self, after: str | None = None, limit: int = 5_000) -> list[AccountLinks]:
        """One page of the ring job's input, by key, starting after the key ``after``:
        stored accounts holding a linking contact, or a kept ad template, or (flagged)
        @-mentions; each with its nickname, score, kept templates (fold → that post's
        score) and mentions. No posts are read."""

    async def save_rings(
        self,
        memberships: Mapping[str, RingMembership],
        *,
        at: datetime | None = None,
        template_peers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Replace every saved ring membership by ``memberships`` (account key → its
        membership): an account absent from it is in no ring afterwards. The saved
        template peers (account key → accounts posting the same counted ad template) are
        replaced by ``template_peers`` in the same step."""

    async def get_ring(self, ring_id: str) -> Ring | None: ...

    async def ring_members(self, ring_id: str, limit: int = 200) -> list[AccountRisk]:
        """The ring's stored accounts, highest score first (then by key)."""

    async def get_post(self, key: str) -> SearchHit | None: ...

    async def search(self, query: SearchQuery) -> SearchResult:
        """Full-text search with filters, highlight fragments and facet counts
        (``category``, ``platform``, ``status``) over the filtered set."""

    async def set_review(self, review: Review) -> None: ...

    async def reported_accounts(self) -> list[str]:
        """Account keys whose review status is ``reported``, oldest decision first: the
        ``recheck`` job's work list."""

    async def accounts_with_status(
        self, status: ReviewStatus, platform: str | None = None, *, limit: int = 10_000
    ) -> list[AccountRisk]:
        """Accounts whose current review status is ``status`` (``new`` includes accounts
        never reviewed, whose ``review`` stays None), each with its ``review`` filled in;
        oldest decision first, then by key. An account reviewed but never stored comes
        back with its key's parts only."""

    async def save_takedown_list(self, takedown: TakedownList) -> None:
        """Upsert a produced list by its id (re-running the job the same day rewrites it)."""

    async def list_takedown_lists(self, limit: int = 50) -> list[TakedownSummary]:
        """The newest lists first, without their entries' details."""

    async def get_takedown_list(self, list_id: str) -> TakedownList | None: ...

    async def get_checkpoint(self, source: str) -> SourceState | None: ...

    async def list_sources(self) -> list[SourceState]: ...

    async def count_posts(self) -> int: ...

    async def stats(self) -> StoreStats: ...
