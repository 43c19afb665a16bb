"""``radar rings``: run the ring job once on the configured store and print the rings.

One block per ring (id, size, shared contacts, member accounts), biggest first, then a
summary line; ``--json`` prints the same as one JSON object. The run's account facts (the
template bonus, :mod:`pipeline.rings.facts`) go to the workers through Kafka in the
scale-out mode, and straight to the store in the embedded one. Operator mistakes (no store
yet, a store that cannot be reached or read) are one-line
:class:`~pipeline.config.ConfigError` messages, as for the other commands.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import msgspec
from aiokafka.errors import KafkaError

from pipeline.config import ConfigError, Settings
from pipeline.rings.facts import FactSink, kafka_sink, store_sink
from pipeline.rings.job import RingRun, find_live_rings, policy_for
from pipeline.store.base import Store
from pipeline.store.factory import open_store, store_missing
from pipeline.store.migrate import SchemaError


@contextlib.asynccontextmanager
async def _fact_sink(settings: Settings, store: Store) -> AsyncIterator[FactSink]:
    """Where this run's account facts go: the workers' partitions in the scale-out mode,
    the store itself in the embedded one (:mod:`pipeline.rings.facts` says why)."""
    if settings.stream.kind != "kafka":
        yield store_sink(store)
        return
    from pipeline.publisher import make_producer

    producer = make_producer(settings.stream.kafka)
    await producer.start()
    try:
        yield kafka_sink(producer, settings.stream.kafka)
    finally:
        await producer.stop()


def rings_json(run: RingRun) -> dict[str, Any]:
    return {
        "rings": [
            {
                "id": ring.id,
                "size": ring.size,
                "contacts": ring.contacts,
                "members": run.members(ring.id),
            }
            for ring in _biggest_first(run)
        ],
        "accounts_in_rings": len(run.memberships),
        "accounts_by_weak_links": run.attached_by_weak_links,
        "accounts_sharing_templates": len(run.template_peers),
        "template_facts_sent": len(run.facts),
        "accounts_read": run.accounts_read,
        "seconds": round(run.seconds, 3),
    }


def _biggest_first(run: RingRun) -> list[Any]:
    return sorted(run.rings, key=lambda r: (-r.size, r.id))


def print_rings(run: RingRun, out: TextIO) -> None:
    for ring in _biggest_first(run):
        print(f"{ring.id}  {ring.size} account(s)  共用: {', '.join(ring.contacts)}", file=out)
        for key in run.members(ring.id):
            print(f"  {key}", file=out)
    print(
        f"{len(run.rings)} ring(s), {len(run.memberships)} account(s) in rings "
        f"({run.attached_by_weak_links} by weak links); {len(run.template_peers)} account(s) "
        f"sharing an ad template ({len(run.facts)} changed); {run.accounts_read} account(s) "
        f"read in {run.seconds:.2f}s",
        file=out,
    )


async def run_rings(settings: Settings, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Exit status 0, also when there are no rings. The rings are saved (replacing the
    previous run's), exactly as the scheduled job saves them."""
    out = out or sys.stdout
    if missing := store_missing(settings):
        raise ConfigError(missing)
    store = open_store(settings)
    try:
        await store.open()
        async with _fact_sink(settings, store) as facts:
            run = await find_live_rings(
                store, policy_for(settings), page_size=settings.rings.page_size, facts=facts
            )
    except ConnectionError as exc:  # the Elasticsearch store's StoreUnavailable
        raise ConfigError(f"store unavailable: {exc}") from None
    except KafkaError as exc:
        raise ConfigError(f"cannot send the account facts to Kafka: {exc}") from None
    except (SchemaError, sqlite3.DatabaseError) as exc:
        raise ConfigError(f"{settings.sqlite_file}: {exc}") from None
    finally:
        await store.close()
    if as_json:
        out.write(msgspec.json.encode(rings_json(run)).decode() + "\n")
    else:
        print_rings(run, out)
    return 0
