"""Incremental crawling of newest-first feeds, with a checkpoint after every page.

Platform feeds (a user's timeline, a keyword search, a member's answers) list the newest
posts first and page backwards. A crawl walks pages until it meets the posts the previous
crawl already handed on, and the runner commits the cursor after every page. The naive
cursor ("newest id seen") would be wrong here: written after page 1 of a crawl, it would
make a restart skip pages 2..n for good. So each feed's cursor keeps two things apart:

* ``seen``: the newest order key handed on by the last *finished* crawl (the stop line);
* the crawl in progress: its newest key (``top``, the next stop line), the oldest key it
  handed on (``last``, so offset-paged feeds that shift after a restart do not repeat
  posts), the platform's page cursor to resume from (``next``) and pages done.

A restart resumes the crawl in progress at ``next`` with the old stop line, so nothing
between the old ``seen`` and the new ``top`` is skipped; posts newer than ``top`` that
appeared meanwhile are the next crawl's. A crawl ends when it meets ``seen``, when the
feed ends, or after ``max_pages`` pages (the depth limit, which also bounds a first
backfill); then ``seen`` becomes ``top``.

Pinned posts (Weibo ``mblogtype == 2``, Bilibili "置顶" dynamics) come first whatever
their age, so they never count as meeting the stop line; they are handed on once, when
they are newer than ``seen``.

Feeds whose order is not chronological (relevance search) set ``ordered=False``: there a
post is new when its id is not among the ``recent`` ids handed on, and the crawl stops
at the first page with nothing new.

A malformed answer is a reject and leaves the feed's checkpoint where it was (the page is
asked again next run); only when the same page stays malformed for
:data:`MAX_SHAPE_FAILURES` runs is the crawl in progress given up, so one broken page
cannot block a feed for good.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from collectors.base import Page
from collectors.http import ShapeError, scrub
from pipeline.models import Post, Reject

log = logging.getLogger("radar.collectors")

RECENT_IDS = 300  # unordered feeds: ids remembered to recognise repeats
# A page that stays malformed this many runs in a row is given up: the crawl in progress
# ends (a possible gap, said in the reject) instead of blocking the feed for good.
MAX_SHAPE_FAILURES = 3


class Entry(msgspec.Struct, kw_only=True):
    """A post as it sits in a feed: its order key (larger = newer), whether pinned, and
    whether the feed showed only the start of its text (the adapter may fetch the rest)."""

    post: Post
    key: list[int]
    pinned: bool = False
    partial: bool = False
    # Posts that travel with this one, handed on only when it is new (a repost's
    # original, by another author and usually older than any checkpoint).
    attached: list[Post] = msgspec.field(default_factory=list)


class FeedPage(msgspec.Struct, kw_only=True):
    """What a platform parser makes of one response: entries, the platform's cursor for
    the next (older) page or ``None`` at the end, and why items were skipped."""

    entries: list[Entry]
    next: str | None = None
    skipped: list[str] = msgspec.field(default_factory=list)

    @property
    def posts(self) -> list[Post]:
        return [entry.post for entry in self.entries]


class FeedState(msgspec.Struct, kw_only=True, omit_defaults=True):
    seen: list[int] | None = None
    top: list[int] | None = None
    last: list[int] | None = None
    recent: list[str] = msgspec.field(default_factory=list)
    next: str | None = None
    pages: int = 0
    failures: int = 0  # malformed answers in a row for the page at ``next``


@dataclass(frozen=True)
class Feed:
    """One feed of a source: ``key`` names it in the cursor (``"u:123"``, ``"q:退保"``)."""

    key: str
    ordered: bool = True
    params: dict[str, Any] = field(default_factory=dict)


def load_states(cursor: str | None) -> dict[str, FeedState]:
    """The per-feed states in a cursor; an unreadable cursor starts afresh (logged)."""
    if not cursor:
        return {}
    try:
        return msgspec.json.decode(cursor, type=dict[str, FeedState])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("unreadable cursor, starting afresh: %s", exc)
        return {}


def dump_states(states: dict[str, FeedState]) -> str:
    return msgspec.json.encode(states).decode()


def select(
    state: FeedState, entries: Sequence[Entry], *, ordered: bool
) -> tuple[list[Post], FeedState, bool]:
    """The posts of one page to hand on, the feed's state after it, and whether the page
    reached what earlier crawls handed on (time to stop)."""
    fresh: list[Post] = []
    top, last = state.top, state.last
    recent = list(state.recent)
    known = set(recent)
    reached = False
    new_unpinned = 0
    on_page: set[str] = set()
    for entry in entries:
        key = entry.key
        if entry.post.post_id in on_page:
            continue  # a new pinned post may also sit at its own place on the page
        on_page.add(entry.post.post_id)
        if ordered:
            if state.seen is not None and key <= state.seen:
                reached = reached or not entry.pinned
                continue
            if not entry.pinned and last is not None and key >= last:
                continue  # handed on before a restart; the feed shifted under us
            if not entry.pinned:
                last = key if last is None else min(last, key)
            top = key if top is None else max(top, key)
        else:
            if entry.post.post_id in known:
                continue
            known.add(entry.post.post_id)
            recent.append(entry.post.post_id)
        fresh.append(entry.post)
        fresh.extend(entry.attached)
        new_unpinned += not entry.pinned
    if not ordered:
        reached = bool(entries) and not new_unpinned
    new_state = msgspec.structs.replace(
        state, top=top, last=last, recent=recent[-RECENT_IDS:], pages=state.pages + 1
    )
    return fresh, new_state, reached


def finish(state: FeedState) -> FeedState:
    """The state after a crawl ends: its newest key is the next crawl's stop line."""
    seen = state.seen
    if state.top is not None and (seen is None or state.top > seen):
        seen = state.top
    return FeedState(seen=seen, recent=state.recent)


FetchPage = Callable[[Feed, str | None], Awaitable[FeedPage]]
Enrich = Callable[[list[Post]], Awaitable[list[Post]]]


async def crawl(
    feeds: Sequence[Feed],
    cursor: str | None,
    *,
    source: str,
    fetch: FetchPage,
    max_pages: int,
    enrich: Enrich | None = None,
) -> AsyncIterator[Page]:
    """Walk every feed from its checkpoint, one :class:`Page` (with the whole cursor) per
    response. Risk-control answers propagate (the source cools down; the pages before
    stay committed). A malformed body becomes a reject for that feed, whose checkpoint
    stays put, and the other feeds go on."""
    old = load_states(cursor)
    states = {feed.key: old.get(feed.key, FeedState()) for feed in feeds}
    for feed in feeds:
        state = states[feed.key]
        page_cursor = state.next if state.pages else None
        while True:
            try:
                page = await fetch(feed, page_cursor)
            except ShapeError as exc:
                failures = state.failures + 1
                reason = scrub(f"{feed.key}: {exc}")
                if failures >= MAX_SHAPE_FAILURES:
                    state = finish(state)
                    reason += f" ({failures} runs in a row: crawl given up, posts may be missed)"
                else:
                    state = msgspec.structs.replace(state, failures=failures)
                states[feed.key] = state
                reject = Reject(
                    source=source,
                    location=feed.key,
                    reason=reason,
                    sample=scrub(exc.sample),
                    at=datetime.now(UTC),
                )
                yield Page(posts=[], rejects=[reject], cursor=dump_states(states))
                break
            posts, state, reached = select(state, page.entries, ordered=feed.ordered)
            state = msgspec.structs.replace(state, failures=0)
            if enrich is not None and posts:
                posts = await enrich(posts)
            empty = not page.entries and not page.skipped
            done = reached or not page.next or empty or state.pages >= max_pages
            state = finish(state) if done else msgspec.structs.replace(state, next=page.next)
            states[feed.key] = state
            rejects = [
                Reject(source=source, location=feed.key, reason=why, at=datetime.now(UTC))
                for why in page.skipped
            ]
            yield Page(posts=posts, rejects=rejects, cursor=dump_states(states))
            if done:
                break
            page_cursor = page.next
