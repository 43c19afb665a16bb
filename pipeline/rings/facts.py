"""The ring job's account facts: which accounts changed answer, and how a fact reaches
the fold that owns the account.

What the job knows that no fold can: whether an account's ad template is one that other
accounts post too (``shares_template``, worth ``template_bonus`` on the account's score, as
in ``radar scan --accounts``). The account's risk belongs to a fold (the embedded runner's
writer, or the faust worker of the account's partition), so the job never writes the score
itself: it sends an :class:`~pipeline.models.AccountFact` for each account whose stored
answer differs from this run's, and the fold applies it (:func:`detectors.accounts.
apply_fact`). Sending only the differences keeps a run cheap, and makes the job
self-correcting: a fact that was lost (a fold that had no state for the account, a runner
stopping) is sent again by the next run, because the store still shows the old answer.

The sinks, one per place a fold lives:

- the embedded runner's writer (:meth:`pipeline.runner.Runner.submit_facts`), in order
  with the posts it stores;
- ``radar.posts.raw`` (:func:`kafka_sink`): each fact on its account's partition, behind
  the posts already there, folded by whichever worker owns the partition;
- the store itself (:func:`store_sink`), when no fold runs in this process and none owns
  the accounts (``radar import`` after its drain, ``radar rings`` in the embedded mode):
  read, apply, write. A ``radar run`` on the same database may hold an account in its
  cache and write it back without the fact; its own next scheduled run sends it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING

from pipeline.kafka_settings import POSTS_TOPIC, KafkaSettings
from pipeline.models import AccountFact
from pipeline.post_bundles import fact_records, send_records
from pipeline.stages import fold_accounts
from pipeline.store.base import Store

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

FactSink = Callable[[Sequence[AccountFact]], Awaitable[None]]

_CHUNK = 1_000  # accounts read and written per store round trip


def template_facts(stored: Collection[str], sharing: Collection[str]) -> list[AccountFact]:
    """The facts to send: every account whose stored ``shares_template`` (``stored``: the
    accounts read that are stored as sharing) differs from this run's (``sharing``), in
    key order."""
    changed = set(stored) ^ set(sharing)
    return [AccountFact(key, key in sharing) for key in sorted(changed)]


def store_sink(store: Store) -> FactSink:
    """Apply facts to the stored accounts directly (see the module doc for when). No
    alert rules run here: the runs that use it are one-off commands, with no alert
    sender; the scheduled runs go through a fold, which records alerts as for posts."""

    async def send(facts: Sequence[AccountFact]) -> None:
        for start in range(0, len(facts), _CHUNK):
            chunk = facts[start : start + _CHUNK]
            states = await store.get_accounts([fact.account_key for fact in chunk])
            changed = list(fold_accounts((), states, chunk).values())
            if not changed:
                continue
            await store.write_batch([], changed)

    return send


def kafka_sink(producer: AIOKafkaProducer, kafka: KafkaSettings) -> FactSink:
    """Publish facts on ``radar.posts.raw``, each on its account's partition, and wait
    until the brokers have them all (raises if a send failed: the run is then logged as
    failed and the next one sends them again)."""

    async def send(facts: Sequence[AccountFact]) -> None:
        if not facts:
            return
        partitions = sorted(await producer.partitions_for(POSTS_TOPIC))
        records = fact_records(facts, partitions, kafka.bundle_max_bytes)
        await send_records(producer, POSTS_TOPIC, records)

    return send
