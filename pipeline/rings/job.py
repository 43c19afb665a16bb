"""Find rings over every stored account now, and save them: the live counterpart of
``radar scan --accounts``'s rings.

Why a job over the store: the live folds (the embedded runner, the faust workers) see
one account at a time (one Kafka partition each in the scale-out mode), while a ring is
by definition several accounts. So the folds keep each account's linking contacts
(:func:`detectors.accounts.linking_contacts`: bio contacts and the contacts of flagged
posts, never a contact named in an exposure frame), and this job links them across all
accounts with :func:`detectors.rings.find_rings`, under the same policy knobs as the scan
(``ring_requires_flagged``: a ring needs a flagged member).

**Weak links, as the scan.** The scan also attaches accounts by weak links (an
@-mention of a ring member, a shared ad template: :func:`find_rings` rule 3). The job
cannot read every post text on every run, so the folds keep compact inputs for them on
each account (``AccountRisk.templates``: the template fold of each ad-like post, a few
per account; ``AccountRisk.mentions``: the characters after each "@"), and this job
links them with the scan's own functions (:mod:`detectors.weak_links`). Eligibility is
the scan's too: flagged, or the fold's account score plus ``template_bonus`` reaching
``high_score`` for an account sharing a counted template. The bonus only decides
eligibility here; the score itself is raised by the fold that owns the account, once
the job has sent it an ``AccountFact`` (:mod:`pipeline.rings.facts`), so alerts and
takedown lists see the same score as the scan gives. An account whose stored score
already carries the bonus is eligible by its stored ``flagged`` (the bonus counted once).

Where the job can differ from the scan over the same posts: a mention resolves against
the names (nickname, account id) of the accounts read, which are those holding a contact,
a kept template, or (flagged) mentions. Every possible ring member holds a contact, so a
mention of a member is always found; but the scan also knows the names of accounts that
are none of these, and its longest-name rule can then prefer such a name ("@张三丰" is
张三丰, not the member 张三), where the job, not knowing 张三丰, resolves to 张三. And the
fold keeps at most ``template_max_kept`` templates and ``max_mentions`` snippets per
account (the scan folds too, so it has the same caps).

Streaming: accounts are read from the store in pages of ``page_size`` (key, contacts,
flagged, nickname, score, kept templates with their post scores, mentions: no posts, no
risk documents), so memory is the inputs of the accounts that hold any. ``assign`` runs
on a worker thread so the event loop (dashboard, pipeline) keeps going. The whole
assignment is then saved in one ``save_rings``, which replaces the previous one (rings,
memberships and the template peers investigators see on the account page): an account
whose contact changed leaves its ring. Ring ids hash the smallest shared contact, so
reruns over the same accounts give the same ids.

Used by ``radar rings``, the embedded runner's scheduled job and the scale-out
scheduler alike; works on any :class:`~pipeline.store.base.Store`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from detectors.accounts import AccountPolicy, default_policy, with_template_bonus
from detectors.rings import Membership, find_rings
from detectors.weak_links import mention_links, shared_templates, template_links, template_peers
from pipeline.models import AccountFact, Ring
from pipeline.rings.facts import FactSink, template_facts
from pipeline.store.base import Store
from pipeline.store.rings import summarise

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger("radar.rings")

PAGE_SIZE = 5_000


@dataclass
class RingInputs:
    """The ring job's input, as read from the store, by account key."""

    contacts: dict[str, set[str]] = field(default_factory=dict)
    flagged: set[str] = field(default_factory=set)
    scores: dict[str, float] = field(default_factory=dict)
    names: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    templates: dict[str, dict[str, float]] = field(default_factory=dict)
    mentions: dict[str, list[str]] = field(default_factory=dict)
    sharing: set[str] = field(default_factory=set)  # stored with the template bonus


class Assignment(NamedTuple):
    """What :func:`assign` found: each ringed account's membership, and each account
    sharing a counted ad template → its template peers (capped)."""

    memberships: dict[str, Membership]
    template_peers: dict[str, list[str]]


@dataclass
class RingRun:
    """What one run found: each ringed account's membership, the rings, and how much it
    read and how long it took."""

    memberships: dict[str, Membership]
    rings: list[Ring]
    accounts_read: int
    seconds: float
    template_peers: dict[str, list[str]] = field(default_factory=dict)
    facts: list[AccountFact] = field(default_factory=list)
    _by_ring: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def attached_by_weak_links(self) -> int:
        """Ring members that share no contact with their ring (weak links attached them)."""
        return sum(1 for m in self.memberships.values() if m.weak)

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
    """Every stored account holding a linking contact or weak-link inputs, page by page."""
    inputs = RingInputs()
    after: str | None = None
    while True:
        page = await store.ring_inputs(after, page_size)
        for row in page:
            key = row.key
            inputs.contacts[key] = set(row.contacts)
            if row.flagged:
                inputs.flagged.add(key)
            inputs.scores[key] = row.score
            inputs.names[key] = (row.nickname, key.partition(":")[2])
            if row.templates:
                inputs.templates[key] = dict(row.templates)
            if row.mentions:
                inputs.mentions[key] = list(row.mentions)
            if row.shares_template:
                inputs.sharing.add(key)
        if len(page) < page_size:
            return inputs
        after = page[-1].key


def assign(inputs: RingInputs, policy: AccountPolicy) -> Assignment:
    """Pure: the memberships of these accounts under ``policy`` (strong links, then the
    scan's weak links), and the template peers."""
    shared = shared_templates(inputs.templates, policy.template, policy.post_threshold)
    peers = template_peers(shared, policy.template_peers_kept)
    memberships = find_rings(
        inputs.contacts,
        mention_links(inputs.names, inputs.mentions),
        eligible_accounts(inputs, peers, policy),
        policy.weak_links_to_attach,
        template_links(shared),
    )
    return Assignment(memberships, {key: others for key, (_, others) in peers.items()})


def eligible_accounts(
    inputs: RingInputs, sharing: Collection[str], policy: AccountPolicy
) -> set[str] | None:
    """Who may be a ring member (None: anyone): the flagged, and the accounts ``sharing``
    a counted template that the bonus lifts to ``high_score``, as in the scan. An account
    stored with the bonus already (``inputs.sharing``) is judged by its stored flag, so
    the bonus never counts twice."""
    if not policy.ring_requires_flagged:
        return None
    raised = {
        key
        for key in sharing
        if key not in inputs.sharing
        and with_template_bonus(inputs.scores.get(key, 0.0), policy) >= policy.high_score
    }
    return inputs.flagged | raised


async def find_live_rings(
    store: Store,
    policy: AccountPolicy | None = None,
    *,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
    facts: FactSink | None = None,
) -> RingRun:
    """Read, link, and replace the saved rings (and template peers) with what was found;
    then send ``facts`` the accounts whose template answer changed (none sent without a
    sink: the run still lists them)."""
    started = time.perf_counter()
    policy = policy or default_policy()
    inputs = await read_inputs(store, page_size)
    memberships, peers = await asyncio.to_thread(assign, inputs, policy)
    at = now or datetime.now(UTC)
    await store.save_rings(memberships, at=at, template_peers=peers)
    changed = template_facts(inputs.sharing, peers)
    if facts is not None and changed:
        await facts(changed)
    run = RingRun(
        memberships=memberships,
        rings=summarise(memberships, at),
        accounts_read=len(inputs.contacts),
        seconds=time.perf_counter() - started,
        template_peers=peers,
        facts=changed,
    )
    log.info(
        "rings: %d ring(s) holding %d account(s) (%d by weak links), of %d account(s) read;"
        " %d sharing an ad template (%d changed); %.2fs",
        len(run.rings),
        len(memberships),
        run.attached_by_weak_links,
        run.accounts_read,
        len(peers),
        len(changed),
        run.seconds,
    )
    return run
