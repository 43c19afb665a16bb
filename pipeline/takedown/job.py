"""Produce takedown lists now: read confirmed accounts, build, save, mark ``reported``.

Order of writes, so that a crash loses nothing and lists nothing twice: every list is
saved before any of its accounts is marked; an account whose list was saved but which
was never marked is found on the next run (:class:`~pipeline.takedown.builder.TakedownPlan`
leftovers) and marked with that list's id instead of being listed again.

Right before saving, the confirmed accounts are read again and any account whose
decision changed meanwhile (an investigator dismissed it after the first read) is left
out: the window in which a fresh dismissal could still be listed is the few
milliseconds between that read and the marks, not the whole run.

Used by ``radar takedown``, the embedded runner's scheduled job and the scale-out
scheduler alike; works on any :class:`~pipeline.store.base.Store`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.models import (
    AccountRisk,
    Review,
    ReviewStatus,
    SearchHit,
    TakedownList,
    account_review_target,
)
from pipeline.store.base import Store
from pipeline.takedown.builder import build_takedown_lists
from pipeline.takedown.export import file_name, render

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger("radar.takedown")

REVIEWER = "takedown-list"
POSTS_PER_ACCOUNT = 50  # read per account to choose the evidence from
PREVIOUS_LISTS = 200  # recent lists checked for accounts saved but never marked


async def _confirmed(store: Store, platforms: Sequence[str] | None) -> list[AccountRisk]:
    if not platforms:
        return await store.accounts_with_status(ReviewStatus.CONFIRMED)
    found: list[AccountRisk] = []
    for platform in dict.fromkeys(platforms):
        found.extend(await store.accounts_with_status(ReviewStatus.CONFIRMED, platform))
    return found


def _decision(account: AccountRisk) -> tuple[object, ...]:
    review = account.review
    return (account.key, review.status, review.reviewer, review.at) if review else (account.key,)


async def _mark(store: Store, key: str, list_id: str, now: datetime) -> None:
    await store.set_review(
        Review(
            target=account_review_target(key),
            status=ReviewStatus.REPORTED,
            note=list_id,
            reviewer=REVIEWER,
            at=now,
        )
    )


async def produce_takedown_lists(
    store: Store,
    settings: Settings,
    now: datetime,
    platforms: Sequence[str] | None = None,
    dry_run: bool = False,
) -> list[TakedownList]:
    """Lists of the accounts confirmed since the last run, one per platform; with
    ``dry_run`` nothing is saved or marked. ``platforms`` (else the settings', else all)
    limits the platforms covered."""
    platforms = list(platforms or settings.takedown.platforms)
    accounts = await _confirmed(store, platforms)
    posts: dict[str, list[SearchHit]] = {}
    for account in accounts:
        posts[account.key] = await store.account_posts(
            account.platform, account.account_id, limit=POSTS_PER_ACCOUNT
        )
    previous = await store.list_takedown_lists(limit=PREVIOUS_LISTS)
    if not dry_run:
        unchanged = {_decision(a) for a in await _confirmed(store, platforms)}
        accounts = [a for a in accounts if _decision(a) in unchanged]
    plan = build_takedown_lists(accounts, posts, now=now, tz=settings.tz, previous=previous)
    if dry_run:
        return plan.lists
    for key, list_id in plan.leftovers.items():
        await _mark(store, key, list_id, now)
    for takedown in plan.lists:
        await store.save_takedown_list(takedown)
        for entry in takedown.entries:
            await _mark(store, entry.key, takedown.id, now)
        log.info("takedown list %s: %d account(s)", takedown.id, len(takedown.entries))
    if plan.leftovers:
        log.warning(
            "%d account(s) were on a saved list but not marked; marked now", len(plan.leftovers)
        )
    return plan.lists


def write_files(
    lists: Sequence[TakedownList], out_dir: Path, formats: Sequence[str], settings: Settings
) -> list[Path]:
    """Each list in each format under ``out_dir`` (created); returns the paths written.
    Written to a temporary name and renamed, so a reader never sees half a file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for takedown in lists:
        for fmt in dict.fromkeys(formats):
            path = out_dir / file_name(takedown.id, fmt)
            partial = path.with_name(path.name + ".part")
            partial.write_bytes(render(takedown, fmt, settings.tz))
            partial.replace(path)
            written.append(path)
    return written
