"""Incremental crawl state: stop lines, pinned posts, restarts, depth limit, bad cursors."""

from __future__ import annotations

import json

from collectors.http import ShapeError
from collectors.incremental import Entry, Feed, FeedPage, FeedState, crawl, finish, select
from pipeline.models import Post


def entry(number: int, *, pinned: bool = False) -> Entry:
    return Entry(
        post=Post(platform="t", post_id=str(number), text="x"), key=[number], pinned=pinned
    )


def ids(posts) -> list[str]:
    return [post.post_id for post in posts]


def test_ordered_page_stops_at_the_line_but_not_at_an_old_pinned_post():
    state = FeedState(seen=[50])
    posts, state, reached = select(
        state, [entry(10, pinned=True), entry(60), entry(55)], ordered=True
    )
    assert ids(posts) == ["60", "55"] and not reached
    posts, state, reached = select(state, [entry(52), entry(50), entry(40)], ordered=True)
    assert ids(posts) == ["52"] and reached
    assert finish(state).seen == [60]


def test_first_crawl_hands_on_a_pinned_post_once():
    posts, state, _ = select(FeedState(), [entry(10, pinned=True), entry(60)], ordered=True)
    assert ids(posts) == ["10", "60"]
    assert state.last == [60] and state.top == [60]


def test_repeats_after_an_offset_shift_are_dropped():
    state = FeedState(seen=[10], top=[60], last=[55], pages=1)
    posts, _, _ = select(state, [entry(56), entry(55), entry(54)], ordered=True)
    assert ids(posts) == ["54"]


def test_unordered_feed_remembers_ids_and_stops_at_a_page_with_nothing_new():
    posts, state, reached = select(FeedState(), [entry(3), entry(9)], ordered=False)
    assert ids(posts) == ["3", "9"] and not reached
    posts, state, reached = select(finish(state), [entry(9), entry(3)], ordered=False)
    assert posts == [] and reached
    posts, _, reached = select(state, [entry(9), entry(1)], ordered=False)
    assert ids(posts) == ["1"] and not reached


async def test_depth_limit_ends_a_crawl_and_unknown_feeds_leave_the_cursor():
    calls: list[str | None] = []

    async def fetch(feed: Feed, cursor: str | None) -> FeedPage:
        calls.append(cursor)
        start = int(cursor or 100)
        return FeedPage(entries=[entry(start), entry(start - 1)], next=str(start - 2))

    old_cursor = json.dumps({"gone": {"seen": [1]}})
    pages = [p async for p in crawl([Feed("f")], old_cursor, source="s", fetch=fetch, max_pages=3)]
    assert calls == [None, "98", "96"]
    assert [ids(p.posts) for p in pages] == [["100", "99"], ["98", "97"], ["96", "95"]]
    assert json.loads(pages[-1].cursor) == {"f": {"seen": [100]}}


async def test_unreadable_cursor_starts_afresh_and_shape_errors_become_rejects():
    async def fetch(feed: Feed, cursor: str | None) -> FeedPage:
        if feed.key == "bad":
            raise ShapeError("HTML where JSON was expected", b"<html>")
        return FeedPage(entries=[entry(5)])

    feeds = [Feed("bad"), Feed("good")]
    pages = [p async for p in crawl(feeds, "{not json", source="s", fetch=fetch, max_pages=3)]
    assert pages[0].posts == [] and pages[0].rejects[0].location == "bad"
    assert pages[0].rejects[0].sample == "<html>"
    assert ids(pages[1].posts) == ["5"]
    assert json.loads(pages[1].cursor) == {"bad": {"failures": 1}, "good": {"seen": [5]}}


def test_attached_posts_travel_only_with_a_new_entry():
    original = Post(platform="t", post_id="old-original", text="x")
    fresh = Entry(post=Post(platform="t", post_id="60", text="x"), key=[60], attached=[original])
    seen = Entry(post=Post(platform="t", post_id="40", text="x"), key=[40], attached=[original])
    posts, state, _ = select(FeedState(seen=[50]), [fresh, seen], ordered=True)
    assert ids(posts) == ["60", "old-original"]
    assert state.top == [60] and state.last == [60]


def test_a_new_pinned_post_also_listed_in_place_is_handed_on_once():
    page = [entry(70, pinned=True), entry(70), entry(60)]
    posts, state, _ = select(FeedState(seen=[50]), page, ordered=True)
    assert ids(posts) == ["70", "60"] and state.top == [70]


async def test_a_page_malformed_three_runs_in_a_row_ends_the_crawl_in_progress():
    async def fetch(feed: Feed, cursor: str | None) -> FeedPage:
        if cursor == "broken":
            raise ShapeError("truncated JSON")
        return FeedPage(entries=[entry(9)], next="broken")

    async def one_run(cursor):
        return [p async for p in crawl([Feed("f")], cursor, source="s", fetch=fetch, max_pages=9)]

    cursor = None
    reasons = []
    for _ in range(3):
        pages = await one_run(cursor)
        cursor = pages[-1].cursor
        reasons.append(pages[-1].rejects[0].reason)
    assert json.loads(cursor) == {"f": {"seen": [9]}}  # given up: the next run starts on top
    assert "given up" in reasons[-1] and "given up" not in reasons[0]
    pages = await one_run(cursor)  # a fresh crawl from the top meets the stop line at once
    assert [p.rejects for p in pages] == [[]] and pages[0].posts == []
