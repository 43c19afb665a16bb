"""A batch for the SQLite writer as the rows it will write: parameters and JSON.

Why a batch is turned into rows before it reaches the writer: building them is pure
Python (the post's and the account's parameters ≈ 15 µs per post, verdict JSON and
contacts ≈ 5, the FTS token string ≈ 20), and with the writer in a process of its own
(``store.sqlite_writer``) that process is a SQLite deployment's one serial resource,
while the caller, a worker's event loop, has time between Kafka round trips. Plain rows
also cross the process boundary cheaply: msgpack decodes them in ~7 µs per post, against
~27 µs for the same batch as structs (datetimes, nested evidence).

The token strings are made here too, for every post, although the writer indexes only
the posts whose text it does not hold already: a worker's writer process was measured
busy ~97% of the time while the worker used ~0.7 of a core (``bench/README.md``), so
the writer sets the pace, and a replayed post is the rare case.

Rows reference posts by key, not by rowid: the ids of new posts exist only inside the
writer's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from pipeline.models import AccountRisk, ScoredPost, SourceState
from pipeline.store import fts
from pipeline.store import sqlite_rows as rows

Row = tuple[Any, ...]


class BatchRows(msgspec.Struct, array_like=True, frozen=True):
    """One write of the pipeline, as rows.

    ``posts`` (``rows.POST_COLUMNS`` order) holds one row per post key, the batch's last
    copy of a key winning; ``verdicts`` and ``bodies`` (each post's FTS token string,
    :func:`pipeline.store.fts.index_text`) are aligned with it. ``accounts`` rows are in
    ``rows.UPSERT_ACCOUNTS`` order."""

    posts: list[Row] = []
    verdicts: list[Row] = []
    bodies: list[str] = []
    categories: list[tuple[str, str]] = []  # (post key, category)
    contacts: list[tuple[str, str, str]] = []  # (canonical, post key, account key)
    accounts: list[Row] = []
    account_contacts: list[tuple[str, str, str]] = []  # (canonical, "", account key)
    checkpoints: list[Row] = []


def batch_rows(
    posts: Sequence[ScoredPost],
    accounts: Sequence[AccountRisk] = (),
    checkpoints: Sequence[SourceState] = (),
) -> BatchRows:
    latest = {scored.post.key: scored for scored in posts}  # the last copy of a key wins
    return BatchRows(
        posts=[rows.post_params(s) for s in latest.values()],
        verdicts=[rows.verdict_params(key, s.verdict) for key, s in latest.items()],
        bodies=[fts.index_text(s.post.text) for s in latest.values()],
        categories=[(key, c) for key, s in latest.items() for c in s.verdict.categories],
        contacts=[row for s in latest.values() for row in rows.contact_rows(s)],
        accounts=[rows.account_params(a) for a in accounts],
        account_contacts=[(c, "", a.key) for a in accounts for c in sorted(set(a.contacts)) if c],
        checkpoints=[rows.checkpoint_params(s) for s in checkpoints],
    )


encode = msgspec.msgpack.Encoder().encode
decode = msgspec.msgpack.Decoder(BatchRows).decode


def merge(batches: Sequence[BatchRows]) -> BatchRows:
    """Several batches as one transaction's rows, as if written one after another: the
    later batch wins for a post key or an account key both carry, with the child rows
    (categories, contacts) of the copy that wins. An account's contacts replace the
    account's contacts, so two versions in one transaction would leave the union."""
    if len(batches) == 1:
        return batches[0]
    post_owner = {row[rows.POST_KEY]: b for b in batches for row in b.posts}
    account_owner = {row[rows.ACCOUNT_KEY]: b for b in batches for row in b.accounts}
    kept = [
        (row, verdict, body)
        for b in batches
        for row, verdict, body in zip(b.posts, b.verdicts, b.bodies, strict=True)
        if post_owner[row[rows.POST_KEY]] is b
    ]
    return BatchRows(
        posts=[row for row, _, _ in kept],
        verdicts=[verdict for _, verdict, _ in kept],
        bodies=[body for _, _, body in kept],
        categories=[c for b in batches for c in b.categories if post_owner[c[0]] is b],
        contacts=[c for b in batches for c in b.contacts if post_owner[c[1]] is b],
        accounts=[
            row for b in batches for row in b.accounts if account_owner[row[rows.ACCOUNT_KEY]] is b
        ],
        account_contacts=[
            c for b in batches for c in b.account_contacts if account_owner[c[2]] is b
        ],
        checkpoints=[row for b in batches for row in b.checkpoints],  # upserted in order
    )
