"""Find rings over every stored account now, and save them: the live counterpart of
``radar scan --accounts``'s rings.

Why a job over the store: the live folds (the embedded runner, the faust workers) see
one account at a time (one Kafka partition each in the scale-out mode), while a ring is
by definition several accounts. So the folds keep each account's linking contacts
(:func:`detectors.accounts.linking_contacts`: bio contacts and the contacts of flagged
posts, never a contact named in an exposure frame), and this job links them across all
accounts with :func:`detectors.rings.find_rings`, under the same policy knobs as the scan
(``ring_requires_flagged``: a ring needs a flagged member).

**Strong links only.** The scan also attaches accounts by weak links (an @-mention of a
ring member, a shared ad template), but both need every account's post texts side by
side; reading all posts on every run would cost far more than the contacts. An account
that only a weak link would attach stays outside the ring here.

Streaming: accounts are read from the store in pages of ``page_size`` (key, contacts,
flagged: no posts, no risk documents), so memory is the contacts of the accounts that
hold any. ``find_rings`` runs on a worker thread so the event loop (dashboard, pipeline)
keeps going. The whole assignment is then saved in one ``save_rings``, which replaces the
previous one: an account whose contact changed leaves its ring. Ring ids hash the
smallest shared contact, so reruns over the same accounts give the same ids.

Used by ``radar rings``, the embedded runner's scheduled job and the scale-out
scheduler alike; works on any :class:`~pipeline.store.base.Store`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from detectors.accounts import AccountPolicy, default_policy
from detectors.rings import Membership, find_rings
from pipeline.models import Ring
from pipeline.store.base import Store
from pipeline.store.rings import summarise

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger("radar.rings")

PAGE_SIZE = 5_000


@dataclass
class RingInputs:
    """The ring job's input, as read from the store."""

    contacts: dict[str, set[str]] = field(default_factory=dict)
    flagged: set[str] = field(default_factory=set)


@dataclass
class RingRun:
    """What one run found: each ringed account's membership, the rings, and how much it
    read and how long it took."""

    memberships: dict[str, Membership]
    rings: list[Ring]
    accounts_read: int
    seconds: float
    _by_ring: dict[str, list[str]] | None = field(default=None, repr=False)

    def members(self, ring_id: str) -> list[str]:
        """The ring's account keys, sorted."""
        if self._by_ring is None:
            self._by_ring = {}
            for key in sorted(self.memberships):
                self._by_ring.setdefault(self.memberships[key].ring, []).append(key)
        return self._by_ring.get(ring_id, [])


def policy_for(settings: Settings) -> AccountPolicy:
    """The account policy of the configured lexicon (the scan's knobs)."""
    lexicon = settings.detector.lexicon_dir
    return default_policy(None if lexicon is None else Path(lexicon).expanduser())


async def read_inputs(store: Store, page_size: int = PAGE_SIZE) -> RingInputs:
    """Every stored account holding a linking contact, page by page."""
    inputs = RingInputs()
    after: str | None = None
    while True:
        page = await store.ring_inputs(after, page_size)
        for row in page:
            inputs.contacts[row.key] = set(row.contacts)
            if row.flagged:
                inputs.flagged.add(row.key)
        if len(page) < page_size:
            return inputs
        after = page[-1].key


def assign(inputs: RingInputs, policy: AccountPolicy) -> dict[str, Membership]:
    """Pure: the memberships of these accounts under ``policy`` (strong links only)."""
    eligible = inputs.flagged if policy.ring_requires_flagged else None
    return find_rings(inputs.contacts, (), eligible, policy.weak_links_to_attach)


async def find_live_rings(
    store: Store,
    policy: AccountPolicy | None = None,
    *,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> RingRun:
    """Read, link, and replace the saved rings with what was found."""
    started = time.perf_counter()
    policy = policy or default_policy()
    inputs = await read_inputs(store, page_size)
    memberships = await asyncio.to_thread(assign, inputs, policy)
    at = now or datetime.now(UTC)
    await store.save_rings(memberships, at=at)
    run = RingRun(
        memberships=memberships,
        rings=summarise(memberships, at),
        accounts_read=len(inputs.contacts),
        seconds=time.perf_counter() - started,
    )
    log.info(
        "rings: %d ring(s) holding %d account(s), of %d account(s) with contacts; %.2fs",
        len(run.rings),
        len(memberships),
        run.accounts_read,
        run.seconds,
    )
    return run
