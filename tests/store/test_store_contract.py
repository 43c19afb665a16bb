"""The store contract: what every ``Store`` must do, tested only through the protocol."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from store_factories import ACCOUNTS, P1, P2, P3, P5, P6, POSTS, account, day, scored

from detectors.rings import Membership
from pipeline.models import (
    AccountRisk,
    Reject,
    Review,
    ReviewStatus,
    Ring,
    SearchQuery,
    SearchResult,
    SourceState,
)
from pipeline.store.base import Store


async def keys(store: Store, **query: object) -> list[str]:
    result = await store.search(SearchQuery(**query))
    return [hit.post.key for hit in result.results]


async def key_set(store: Store, **query: object) -> set[str]:
    return set(await keys(store, page_size=100, **query))


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.write_batch(POSTS, ACCOUNTS)
    return store


# -- idempotent writes -------------------------------------------------------------------


async def test_writing_the_same_batch_twice_leaves_one_copy(store: Store) -> None:
    checkpoint = SourceState(name="weibo-test", cursor="c9", posts_total=6)
    await store.write_batch(POSTS, ACCOUNTS, [checkpoint])
    first = (await store.stats(), await store.search(SearchQuery(q="全额退保")))
    await store.write_batch(POSTS, ACCOUNTS, [checkpoint])

    assert await store.count_posts() == len(POSTS)
    result = await store.search(SearchQuery(q="全额退保"))
    assert result.total == 1
    assert [h.post.key for h in result.results] == ["weibo:p1"]
    assert (await store.stats(), result) == first
    sharing = await store.accounts_sharing_contacts(["wechat:tb2025"])
    assert sorted(a.key for a in sharing) == ["douyin:u3", "weibo:u1"]


async def test_duplicates_within_one_batch_are_one_post(store: Store) -> None:
    await store.write_batch([P1, P1, P2])
    assert await store.count_posts() == 2
    assert (await store.search(SearchQuery(q="全额退保"))).total == 1


async def test_rewriting_a_post_reindexes_its_new_text(loaded: Store) -> None:
    changed = scored("p1", "改做停息挂账了，私信", score=0.9, categories=["debt"], created=day(1))
    await loaded.write_batch([changed])

    assert await key_set(loaded, q="全额退保") == set()
    assert await key_set(loaded, q="停息挂账") == {"weibo:p1", "weibo:p2"}
    assert await key_set(loaded, category="surrender") == {"douyin:p4"}
    assert await loaded.count_posts() == len(POSTS)


# -- full-text search --------------------------------------------------------------------


async def test_two_character_term_is_found(loaded: Store) -> None:
    assert await key_set(loaded, q="口子") == {"weibo:p2"}
    assert await key_set(loaded, q="口子", flagged_only=False) == {"weibo:p2", "xiaohongshu:p5"}


async def test_four_character_term_matches_only_contiguous_text(loaded: Store) -> None:
    # p4 has 退保全额, which holds both words but not the phrase.
    assert await key_set(loaded, q="全额退保") == {"weibo:p1"}
    assert await key_set(loaded, q="退保") == {"weibo:p1", "douyin:p4"}


async def test_mixed_latin_and_chinese_terms_must_all_match(loaded: Store) -> None:
    assert await key_set(loaded, q="vx 退保") == {"weibo:p1", "douyin:p4"}
    assert await key_set(loaded, q="vx 停息挂账") == set()


@pytest.mark.parametrize("q", ["VX", "ｖｘ", "Vx"])
async def test_latin_terms_match_any_case_and_width(loaded: Store, q: str) -> None:
    assert await key_set(loaded, q=q) == {"weibo:p1", "douyin:p4"}


async def test_query_without_searchable_terms_matches_nothing(loaded: Store) -> None:
    result = await loaded.search(SearchQuery(q="，。！"))
    assert (result.total, result.results) == (0, [])


async def test_empty_query_lists_flagged_posts_by_score(loaded: Store) -> None:
    assert await keys(loaded) == ["weibo:p1", "weibo:p2", "douyin:p3", "douyin:p4"]


async def test_equal_scores_list_newest_first(store: Store) -> None:
    older = scored("old", "代理退保", score=0.5, created=day(1))
    newer = scored("new", "代理退保", score=0.5, created=day(2))
    undated = scored("undated", "代理退保", score=0.5, created=None, collected=day(3))
    await store.write_batch([older, newer, undated])
    assert await keys(store) == ["weibo:undated", "weibo:new", "weibo:old"]


# -- filters -----------------------------------------------------------------------------


async def test_flagged_only_is_the_default(loaded: Store) -> None:
    assert (await loaded.search(SearchQuery())).total == 4
    assert (await loaded.search(SearchQuery(flagged_only=False))).total == 6


async def test_category_filter(loaded: Store) -> None:
    assert await key_set(loaded, category="surrender") == {"weibo:p1", "douyin:p4"}
    assert await key_set(loaded, category="debt") == {"weibo:p2"}
    assert await key_set(loaded, category="other_scheme") == set()


async def test_platform_filter(loaded: Store) -> None:
    assert await key_set(loaded, platform="douyin") == {"douyin:p3", "douyin:p4"}


async def test_time_window_is_half_open(loaded: Store) -> None:
    assert await key_set(loaded, since=day(2), until=day(4)) == {"weibo:p2", "douyin:p3"}
    assert await key_set(loaded, since=day(4)) == {"douyin:p4"}


async def test_time_filter_falls_back_to_collected_at(loaded: Store) -> None:
    # p5 has no created_at; it was collected on day 5.
    found = await key_set(loaded, since=day(5), until=day(6), flagged_only=False)
    assert found == {"xiaohongshu:p5"}


async def test_min_score_filter(loaded: Store) -> None:
    assert await key_set(loaded, min_score=0.8) == {"weibo:p1", "weibo:p2"}


async def test_filters_combine_with_full_text(loaded: Store) -> None:
    assert await key_set(loaded, q="退保", platform="douyin") == {"douyin:p4"}
    assert await key_set(loaded, q="退保", min_score=0.9) == {"weibo:p1"}


# -- reviews -----------------------------------------------------------------------------


async def test_unreviewed_posts_have_status_new(loaded: Store) -> None:
    result = await loaded.search(SearchQuery())
    assert {hit.status for hit in result.results} == {ReviewStatus.NEW}
    assert await key_set(loaded, status=ReviewStatus.NEW) == {
        "weibo:p1",
        "weibo:p2",
        "douyin:p3",
        "douyin:p4",
    }


async def test_review_changes_status_and_filter(loaded: Store) -> None:
    at = datetime(2025, 3, 10, tzinfo=UTC)
    await loaded.set_review(Review(target="douyin:p3", status=ReviewStatus.CONFIRMED, at=at))
    assert await key_set(loaded, status=ReviewStatus.CONFIRMED) == {"douyin:p3"}
    assert "douyin:p3" not in await key_set(loaded, status=ReviewStatus.NEW)

    await loaded.set_review(
        Review(target="douyin:p3", status=ReviewStatus.DISMISSED, note="genuine", reviewer="li")
    )
    assert await key_set(loaded, status=ReviewStatus.CONFIRMED) == set()
    assert await key_set(loaded, status=ReviewStatus.DISMISSED) == {"douyin:p3"}
    hit = await loaded.get_post("douyin:p3")
    assert hit is not None and hit.status == ReviewStatus.DISMISSED


# -- facets ------------------------------------------------------------------------------


async def test_facets_count_the_filtered_set(loaded: Store) -> None:
    await loaded.set_review(Review(target="weibo:p2", status=ReviewStatus.REPORTED))
    result = await loaded.search(SearchQuery())
    assert result.facets["category"] == {"surrender": 2, "debt": 1, "credit": 1, "complaint": 1}
    assert result.facets["platform"] == {"weibo": 2, "douyin": 2}
    assert result.facets["status"] == {"new": 3, "reported": 1}

    narrowed = await loaded.search(SearchQuery(q="退保"))
    assert narrowed.facets["platform"] == {"weibo": 1, "douyin": 1}
    assert narrowed.facets["category"] == {"surrender": 2, "complaint": 1}


async def test_facets_ignore_their_own_filter(loaded: Store) -> None:
    result = await loaded.search(SearchQuery(category="surrender"))
    assert result.total == 2
    # The category facet still offers the other categories ...
    assert result.facets["category"] == {"surrender": 2, "debt": 1, "credit": 1, "complaint": 1}
    # ... while the others count only surrender posts.
    assert result.facets["platform"] == {"weibo": 1, "douyin": 1}
    assert result.facets["status"] == {"new": 2}

    by_platform = await loaded.search(SearchQuery(platform="douyin"))
    assert by_platform.facets["platform"] == {"weibo": 2, "douyin": 2}
    assert by_platform.facets["category"] == {"credit": 1, "surrender": 1, "complaint": 1}


async def test_status_facet_counts_reviews_inside_the_filtered_set(loaded: Store) -> None:
    await loaded.set_review(Review(target="douyin:p4", status=ReviewStatus.DISMISSED))
    await loaded.set_review(Review(target="douyin:p3", status=ReviewStatus.CONFIRMED))
    result = await loaded.search(SearchQuery(q="退保"))  # p1 and p4; p3 is outside
    assert result.facets["status"] == {"new": 1, "dismissed": 1}

    only_confirmed = await loaded.search(SearchQuery(status=ReviewStatus.CONFIRMED))
    assert only_confirmed.total == 1
    assert only_confirmed.facets["status"] == {"new": 2, "confirmed": 1, "dismissed": 1}


async def test_a_review_set_back_to_new_counts_as_new(loaded: Store) -> None:
    await loaded.set_review(Review(target="douyin:p3", status=ReviewStatus.CONFIRMED))
    await loaded.set_review(Review(target="douyin:p3", status=ReviewStatus.NEW))
    assert "douyin:p3" in await key_set(loaded, status=ReviewStatus.NEW)
    assert (await loaded.search(SearchQuery())).facets["status"] == {"new": 4}


# -- pagination --------------------------------------------------------------------------


async def test_pages_are_disjoint_and_complete(store: Store) -> None:
    posts = [scored(f"x{i:02d}", f"代理退保第{i}条", score=i / 100) for i in range(25)]
    await store.write_batch(posts)
    pages = [
        await store.search(SearchQuery(q="代理退保", page=n, page_size=10)) for n in (1, 2, 3, 4)
    ]
    assert [r.total for r in pages] == [25] * 4
    assert [len(r.results) for r in pages] == [10, 10, 5, 0]
    seen = [hit.post.key for r in pages for hit in r.results]
    assert len(seen) == len(set(seen)) == 25
    by_score = await keys(store, page_size=100)
    assert by_score == [f"weibo:x{i:02d}" for i in reversed(range(25))]


async def test_page_size_is_capped_at_100(store: Store) -> None:
    await store.write_batch([scored(f"y{i:03d}", "代理退保", score=0.5) for i in range(120)])
    result = await store.search(SearchQuery(page_size=1000))
    assert (result.total, len(result.results)) == (120, 100)


# -- highlight ---------------------------------------------------------------------------


async def test_highlight_fragments_rebuild_the_original_text(loaded: Store) -> None:
    for q in ("", "退保", "vx 退保", "口子"):
        result = await loaded.search(SearchQuery(q=q, flagged_only=False))
        assert result.results
        for hit in result.results:
            assert "".join(text for text, _ in hit.highlight) == hit.post.text


async def test_highlight_marks_query_terms_and_evidence(loaded: Store) -> None:
    (hit,) = (await loaded.search(SearchQuery(q="退保", platform="weibo"))).results
    assert ("退保", "q") in hit.highlight  # the query wins where it overlaps evidence
    assert ("全额", "surrender_phrase") in hit.highlight
    assert ("不成功不收费", "guarantee") in hit.highlight

    (p4,) = (await loaded.search(SearchQuery(q="vx", platform="douyin"))).results
    assert ("ＶＸ", "q") in p4.highlight  # full-width original, half-width query


# -- single records, accounts, checkpoints, stats ----------------------------------------


async def test_get_post_round_trips_post_and_verdict(loaded: Store) -> None:
    hit = await loaded.get_post("weibo:p1")
    assert hit is not None
    assert hit.post == P1.post
    assert hit.verdict == P1.verdict
    assert ("不成功不收费", "guarantee") in hit.highlight
    undated = await loaded.get_post("xiaohongshu:p5")
    assert undated is not None and undated.post == P5.post
    assert await loaded.get_post("weibo:missing") is None


async def test_account_posts_are_newest_first(loaded: Store) -> None:
    hits = await loaded.account_posts("douyin", "u3")
    assert [h.post.key for h in hits] == ["douyin:p4", "douyin:p3"]
    assert all("".join(t for t, _ in h.highlight) == h.post.text for h in hits)
    assert [h.post.key for h in await loaded.account_posts("douyin", "u3", limit=1)] == [
        "douyin:p4"
    ]
    assert await loaded.account_posts("douyin", "nobody") == []


async def test_accounts_round_trip(loaded: Store) -> None:
    found = await loaded.get_accounts(["weibo:u1", "douyin:u3", "weibo:missing"])
    assert found == {"weibo:u1": ACCOUNTS[0], "douyin:u3": ACCOUNTS[2]}
    assert await loaded.get_account("weibo", "u2") == ACCOUNTS[1]
    assert await loaded.get_account("weibo", "missing") is None
    assert await loaded.get_accounts([]) == {}


async def test_account_update_replaces_the_old_risk(loaded: Store) -> None:
    updated = msgspec.structs.replace(ACCOUNTS[0], score=0.3, flagged=False, contacts=[])
    await loaded.write_batch([], [updated])
    assert await loaded.get_account("weibo", "u1") == updated
    assert (await loaded.stats()).flagged_accounts == 2


async def test_accounts_sharing_contacts(loaded: Store) -> None:
    # tb2025 appears in p1 (weibo:u1) and p4 (douyin:u3).
    sharing = await loaded.accounts_sharing_contacts(["wechat:tb2025"], exclude="weibo:u1")
    assert [a.key for a in sharing] == ["douyin:u3"]
    # qq:12345 is only in weibo:u2's account-level contacts (its bio).
    assert [a.key for a in await loaded.accounts_sharing_contacts(["qq:12345"])] == ["weibo:u2"]
    both = await loaded.accounts_sharing_contacts(["wechat:tb2025", "wechat:dk888"])
    assert [a.key for a in both] == ["weibo:u1", "weibo:u2", "douyin:u3"]  # by score
    assert await loaded.accounts_sharing_contacts(["wechat:nobody"]) == []
    assert await loaded.accounts_sharing_contacts([]) == []


async def test_checkpoints_commit_with_their_batch(store: Store) -> None:
    first = SourceState(name="weibo-test", cursor="c1", posts_total=2, updated_at=day(1))
    other = SourceState(name="douyin-test", cursor="d1", bad_records=1, last_error="timeout")
    await store.write_batch([P1, P2], [], [first, other])
    assert await store.get_checkpoint("weibo-test") == first
    assert await store.get_checkpoint("missing") is None

    second = msgspec.structs.replace(first, cursor="c2", posts_total=3, updated_at=day(2))
    await store.write_batch([P3], [], [second])
    assert await store.get_checkpoint("weibo-test") == second
    assert await store.list_sources() == [other, second]  # by name


async def test_stats(loaded: Store) -> None:
    await loaded.record_rejects(
        [
            Reject(source="weibo-test", location="line 3", reason="missing text"),
            Reject(source="weibo-test", location="line 9", reason="bad json", sample="{"),
        ]
    )
    stats = await loaded.stats()
    assert (stats.posts, stats.flagged_posts) == (6, 4)
    assert (stats.accounts, stats.flagged_accounts) == (3, 3)
    assert stats.rejects == 2
    assert stats.by_category == {"surrender": 2, "debt": 1, "credit": 1, "complaint": 1}
    assert stats.by_platform == {"weibo": 3, "douyin": 2, "xiaohongshu": 1}


async def test_empty_store_answers_everything(store: Store) -> None:
    assert await store.count_posts() == 0
    result = await store.search(SearchQuery(q="退保"))
    assert isinstance(result, SearchResult) and result.total == 0
    assert await store.list_sources() == []
    assert (await store.stats()).posts == 0


async def test_unflagged_posts_are_stored_but_hidden_by_default(loaded: Store) -> None:
    news = await loaded.get_post(P6.post.key)
    assert news is not None and not news.verdict.flagged
    assert P6.post.key not in await key_set(loaded, q="代理退保")
    assert P6.post.key in await key_set(loaded, q="代理退保", flagged_only=False)


async def test_an_account_review_never_changes_a_post_with_the_same_id(store):
    from pipeline.models import (
        Post,
        Review,
        ReviewStatus,
        ScoredPost,
        SearchQuery,
        Verdict,
        account_review_target,
    )

    post = Post(platform="weibo", post_id="42", text="全额退保 加威信", author_id="42")
    await store.write_batch([ScoredPost(post=post, verdict=Verdict(flagged=True, score=0.9))])
    target = account_review_target(post.account_key)
    await store.set_review(Review(target=target, status=ReviewStatus.DISMISSED))
    [hit] = (await store.search(SearchQuery())).results
    assert hit.status == ReviewStatus.NEW


async def test_engagement_counts_round_trip(store):
    from pipeline.models import Post, ScoredPost, Verdict

    post = Post(
        platform="weibo",
        post_id="c1",
        text="全额退保 加威信",
        counts={"reposts": 12000, "likes": 3},
    )
    await store.write_batch([ScoredPost(post=post, verdict=Verdict(flagged=True, score=0.9))])
    hit = await store.get_post(post.key)
    assert hit is not None
    assert hit.post.counts == {"reposts": 12000, "likes": 3}


async def test_reported_accounts_lists_account_reviews_only_oldest_first(store):
    from datetime import UTC, datetime

    from store_factories import ACCOUNTS, P1

    from pipeline.models import Review, ReviewStatus, account_review_target

    await store.write_batch([P1], ACCOUNTS)

    async def review(target: str, status: ReviewStatus, day: int) -> None:
        at = datetime(2025, 3, day, tzinfo=UTC)
        await store.set_review(Review(target=target, status=status, at=at))

    await review(account_review_target("weibo:u2"), ReviewStatus.REPORTED, 10)
    await review(account_review_target("weibo:u1"), ReviewStatus.REPORTED, 9)
    await review(account_review_target("douyin:u3"), ReviewStatus.CONFIRMED, 8)
    await review(P1.post.key, ReviewStatus.REPORTED, 7)  # a post, not an account
    assert await store.reported_accounts() == ["weibo:u1", "weibo:u2"]
    hit = await store.get_post(P1.post.key)
    assert hit is not None and hit.status == ReviewStatus.REPORTED


# -- accounts by review status, takedown lists -------------------------------------------


async def _review_account(store: Store, key: str, status: ReviewStatus, day_: int) -> None:
    from pipeline.models import account_review_target

    at = datetime(2025, 3, day_, tzinfo=UTC)
    await store.set_review(
        Review(target=account_review_target(key), status=status, reviewer="li", note="n", at=at)
    )


async def test_accounts_with_status_joins_the_review_oldest_first(loaded: Store) -> None:
    await _review_account(loaded, "douyin:u3", ReviewStatus.CONFIRMED, 9)
    await _review_account(loaded, "weibo:u1", ReviewStatus.CONFIRMED, 8)
    await _review_account(loaded, "weibo:u2", ReviewStatus.DISMISSED, 7)
    await loaded.set_review(Review(target="weibo:p2", status=ReviewStatus.CONFIRMED))  # a post

    confirmed = await loaded.accounts_with_status(ReviewStatus.CONFIRMED)
    assert [a.key for a in confirmed] == ["weibo:u1", "douyin:u3"]
    first = confirmed[0]
    assert msgspec.structs.replace(first, review=None) == ACCOUNTS[0]
    assert first.review is not None
    assert (first.review.status, first.review.reviewer, first.review.note) == (
        ReviewStatus.CONFIRMED,
        "li",
        "n",
    )
    assert first.review.at == datetime(2025, 3, 8, tzinfo=UTC)
    only_douyin = await loaded.accounts_with_status(ReviewStatus.CONFIRMED, platform="douyin")
    assert [a.key for a in only_douyin] == ["douyin:u3"]
    assert await loaded.accounts_with_status(ReviewStatus.CONFIRMED, platform="dou") == []
    dismissed = await loaded.accounts_with_status(ReviewStatus.DISMISSED)
    assert [a.key for a in dismissed] == ["weibo:u2"]
    assert await loaded.accounts_with_status(ReviewStatus.TAKEN_DOWN) == []


async def test_accounts_with_status_follows_the_latest_decision(loaded: Store) -> None:
    await _review_account(loaded, "weibo:u1", ReviewStatus.CONFIRMED, 8)
    await _review_account(loaded, "weibo:u1", ReviewStatus.DISMISSED, 9)
    assert await loaded.accounts_with_status(ReviewStatus.CONFIRMED) == []
    await _review_account(loaded, "weibo:u1", ReviewStatus.NEW, 10)
    new = await loaded.accounts_with_status(ReviewStatus.NEW)
    # Never-reviewed accounts first (by key), then explicit "new" decisions.
    assert [a.key for a in new] == ["douyin:u3", "weibo:u2", "weibo:u1"]
    assert [a.review is None for a in new] == [True, True, False]
    assert [a.key for a in await loaded.accounts_with_status(ReviewStatus.NEW, "weibo")] == [
        "weibo:u2",
        "weibo:u1",
    ]
    assert len(await loaded.accounts_with_status(ReviewStatus.NEW, limit=2)) == 2


async def test_a_reviewed_account_without_stored_risk_comes_back_bare(store: Store) -> None:
    await _review_account(store, "weibo:ghost:1", ReviewStatus.CONFIRMED, 8)
    [ghost] = await store.accounts_with_status(ReviewStatus.CONFIRMED)
    assert (ghost.platform, ghost.account_id, ghost.key) == ("weibo", "ghost:1", "weibo:ghost:1")
    assert ghost.review is not None and ghost.review.reviewer == "li"


def _takedown(list_id: str, platform: str, day_: int, keys: list[str]):
    from pipeline.models import TakedownEntry, TakedownEvidence, TakedownList

    return TakedownList(
        id=list_id,
        platform=platform,
        created_at=datetime(2025, 3, day_, 1, tzinfo=UTC),
        period=f"2025-03-01~2025-03-{day_:02d}",
        entries=[
            TakedownEntry(
                key=key,
                platform=platform,
                account_id=key.split(":", 1)[1],
                nickname="代理退保小助手",
                score=0.9,
                categories=["代理退保"],
                reasons=["全额退保广告"],
                contacts=["wechat:tb2025"],
                evidence=[
                    TakedownEvidence(
                        post_key=f"{platform}:p1", url="https://x.example/p1", excerpt="全额退保"
                    )
                ],
                confirmed_by="li",
                confirmed_at=datetime(2025, 3, 1, tzinfo=UTC),
            )
            for key in keys
        ],
    )


async def test_takedown_lists_round_trip_newest_first(store: Store) -> None:
    older = _takedown("2025-03-02-weibo-0000000a", "weibo", 2, ["weibo:u1", "weibo:u2"])
    newer = _takedown("2025-03-09-douyin-0000000b", "douyin", 9, ["douyin:u3"])
    await store.save_takedown_list(older)
    await store.save_takedown_list(newer)
    assert await store.get_takedown_list(older.id) == older
    assert await store.get_takedown_list("2025-03-02-weibo-ffffffff") is None
    summaries = await store.list_takedown_lists()
    assert [s.id for s in summaries] == [newer.id, older.id]
    assert summaries[1] == older.summary()
    assert summaries[1].count == 2 and summaries[1].accounts == ["weibo:u1", "weibo:u2"]
    assert [s.id for s in await store.list_takedown_lists(limit=1)] == [newer.id]


async def test_saving_a_list_again_replaces_it(store: Store) -> None:
    first = _takedown("2025-03-02-weibo-0000000a", "weibo", 2, ["weibo:u1"])
    again = _takedown("2025-03-02-weibo-0000000a", "weibo", 2, ["weibo:u1", "weibo:u2"])
    await store.save_takedown_list(first)
    await store.save_takedown_list(again)
    assert await store.get_takedown_list(first.id) == again
    assert [s.count for s in await store.list_takedown_lists()] == [2]


# -- rings (saved by the ring job, overlaid on every account read) ------------------------


def _ring(ring_id: str, *members: str, contact: str = "wechat:tb2025") -> dict[str, Membership]:
    return {key: Membership(ring_id, [contact], []) for key in members}


async def test_saved_rings_fill_every_account_read(loaded: Store) -> None:
    await loaded.save_rings(_ring("ring-a", "weibo:u1", "douyin:u3"), at=day(2))

    assert (await loaded.get_account("weibo", "u1")).ring == "ring-a"  # type: ignore[union-attr]
    found = await loaded.get_accounts(["weibo:u1", "weibo:u2", "douyin:u3"])
    assert {k: a.ring for k, a in found.items()} == {
        "weibo:u1": "ring-a",
        "weibo:u2": None,
        "douyin:u3": "ring-a",
    }
    sharing = await loaded.accounts_sharing_contacts(["wechat:tb2025"])
    assert {a.key: a.ring for a in sharing} == {"weibo:u1": "ring-a", "douyin:u3": "ring-a"}
    new = await loaded.accounts_with_status(ReviewStatus.NEW)
    assert {a.key: a.ring for a in new} == {k: a.ring for k, a in found.items()}
    await _review_account(loaded, "douyin:u3", ReviewStatus.CONFIRMED, 3)
    [confirmed] = await loaded.accounts_with_status(ReviewStatus.CONFIRMED)
    assert (confirmed.key, confirmed.ring) == ("douyin:u3", "ring-a")

    ring = await loaded.get_ring("ring-a")
    assert ring == Ring(id="ring-a", size=2, contacts=["wechat:tb2025"], found_at=day(2))
    members = await loaded.ring_members("ring-a")
    assert [(a.key, a.ring) for a in members] == [("weibo:u1", "ring-a"), ("douyin:u3", "ring-a")]
    assert members[0] == msgspec.structs.replace(ACCOUNTS[0], ring="ring-a")
    assert [a.key for a in await loaded.ring_members("ring-a", limit=1)] == ["weibo:u1"]
    assert await loaded.get_ring("ring-nope") is None
    assert await loaded.ring_members("ring-nope") == []


async def test_saving_rings_replaces_the_previous_assignment(loaded: Store) -> None:
    await loaded.save_rings(_ring("ring-a", "weibo:u1", "douyin:u3"), at=day(1))
    moved = _ring("ring-b", "weibo:u1", "weibo:u2", contact="wechat:dk888")
    await loaded.save_rings(moved, at=day(2))

    found = await loaded.get_accounts(["weibo:u1", "weibo:u2", "douyin:u3"])
    assert {k: a.ring for k, a in found.items()} == {
        "weibo:u1": "ring-b",
        "weibo:u2": "ring-b",
        "douyin:u3": None,  # left its ring: the stale membership is gone
    }
    assert await loaded.get_ring("ring-a") is None
    assert await loaded.ring_members("ring-a") == []
    assert [a.key for a in await loaded.ring_members("ring-b")] == ["weibo:u1", "weibo:u2"]

    await loaded.save_rings({}, at=day(3))
    assert {a.ring for a in (await loaded.get_accounts(list(found))).values()} == {None}
    assert await loaded.get_ring("ring-b") is None


async def test_a_later_account_write_keeps_the_saved_ring(loaded: Store) -> None:
    await loaded.save_rings(_ring("ring-a", "weibo:u1"), at=day(1))
    # A live fold writes what it read or built: no ring, or a stale one.
    refolded = msgspec.structs.replace(ACCOUNTS[0], ring=None, score=0.95)
    stale = msgspec.structs.replace(ACCOUNTS[1], ring="ring-gone")
    await loaded.write_batch([P1], [refolded, stale])

    u1 = await loaded.get_account("weibo", "u1")
    assert u1 is not None and (u1.ring, u1.score) == ("ring-a", 0.95)
    u2 = await loaded.get_account("weibo", "u2")
    assert u2 is not None and u2.ring is None  # a written ring is never read back


async def test_ring_inputs_page_through_every_account_with_contacts(store: Store) -> None:
    accounts = [
        account(
            "weibo",
            f"a{n:02d}",
            score=0.9 if n % 3 == 0 else 0.2,
            flagged=n % 3 == 0,
            contacts=[f"wechat:shop{n % 4}", f"phone:1380000{n:04d}"] if n % 5 else [],
        )
        for n in range(23)
    ]
    await store.write_batch([], accounts)
    pages, after = [], None
    while page := await store.ring_inputs(after, limit=4):
        assert len(page) <= 4
        pages.append(page)
        after = page[-1].key
    got = [row for page in pages for row in page]
    expected = [a for a in accounts if a.contacts]
    assert [r.key for r in got] == [a.key for a in expected]  # by key, each once
    assert [(sorted(r.contacts), r.flagged) for r in got] == [
        (sorted(a.contacts), a.flagged) for a in expected
    ]
    assert len(pages) == -(-len(expected) // 4)


# -- weak-link inputs and template peers (the ring job's, migration 0006) ---------------


def _weak(
    account_id: str,
    *,
    flagged: bool,
    contacts: list[str] | None = None,
    templates: dict[str, str] | None = None,
    mentions: list[str] | None = None,
) -> AccountRisk:
    base = account("weibo", account_id, score=0.8 if flagged else 0.3, flagged=flagged)
    scores = {"weibo:p": base.score, "weibo:t1": 0.9, "weibo:t2": 0.45}
    return msgspec.structs.replace(
        base,
        contacts=contacts or [],
        post_scores=scores,
        templates=templates or {},
        mentions=mentions or [],
    )


async def test_ring_inputs_include_weak_link_inputs(store: Store) -> None:
    accounts = [
        _weak("a-contact", flagged=False, contacts=["wechat:shop"]),
        # a kept template: read even unflagged (the template bonus may make it eligible)
        _weak("b-template", flagged=False, templates={"weibo:t1": "全额退保不成功不收费加我"}),
        # mentions count only when flagged: an unflagged account is never attached
        _weak("c-mentions-flagged", flagged=True, mentions=["name-a-contact 推荐"]),
        _weak("d-mentions-unflagged", flagged=False, mentions=["name-a-contact 推荐"]),
        _weak("e-nothing", flagged=True),
        _weak(
            "f-all",
            flagged=True,
            contacts=["phone:13800000000"],
            # two posts with one fold: the higher score is the template's
            templates={
                "weibo:t2": "同一段广告文案",
                "weibo:t1": "同一段广告文案",
                "weibo:gone": "x",
            },
            mentions=["a", "b"],
        ),
    ]
    await store.write_batch([], accounts)
    got = []
    after = None
    while page := await store.ring_inputs(after, limit=2):
        got += page
        after = page[-1].key
    assert [r.key for r in got] == [
        "weibo:a-contact",
        "weibo:b-template",
        "weibo:c-mentions-flagged",
        "weibo:f-all",
    ]
    rows = {r.key: r for r in got}
    assert rows["weibo:a-contact"].nickname == "name-a-contact"
    assert (rows["weibo:a-contact"].templates, rows["weibo:a-contact"].mentions) == ({}, [])
    assert rows["weibo:b-template"].templates == {"全额退保不成功不收费加我": 0.9}
    assert rows["weibo:b-template"].score == 0.3
    assert not rows["weibo:b-template"].flagged and rows["weibo:b-template"].contacts == []
    assert rows["weibo:c-mentions-flagged"].mentions == ["name-a-contact 推荐"]
    f = rows["weibo:f-all"]
    assert (f.contacts, f.templates, f.mentions) == (
        ["phone:13800000000"],
        {"同一段广告文案": 0.9},  # "weibo:gone" has no post score: no longer kept
        ["a", "b"],
    )


async def test_template_peers_and_weak_links_fill_account_reads(loaded: Store) -> None:
    weak = {
        "weibo:u1": Membership("ring-a", ["wechat:tb2025"], []),
        "weibo:u2": Membership("ring-a", [], ["mention:weibo:u1", "template:weibo:u1"]),
    }
    peers = {"weibo:u2": ["douyin:u3", "weibo:u1"], "douyin:u3": ["weibo:u2"]}
    await loaded.save_rings(weak, at=day(2), template_peers=peers)

    found = await loaded.get_accounts(["weibo:u1", "weibo:u2", "douyin:u3"])
    assert {k: (a.ring, a.ring_weak, a.template_peers) for k, a in found.items()} == {
        "weibo:u1": ("ring-a", [], []),
        "weibo:u2": ("ring-a", ["mention:weibo:u1", "template:weibo:u1"], peers["weibo:u2"]),
        "douyin:u3": (None, [], ["weibo:u2"]),
    }
    members = {a.key: a for a in await loaded.ring_members("ring-a")}
    assert members["weibo:u2"].ring_weak == ["mention:weibo:u1", "template:weibo:u1"]
    assert members["weibo:u2"].template_peers == peers["weibo:u2"]
    new = {a.key: a.template_peers for a in await loaded.accounts_with_status(ReviewStatus.NEW)}
    assert new["douyin:u3"] == ["weibo:u2"]
    sharing = await loaded.accounts_sharing_contacts(["wechat:tb2025"])
    assert {a.key: a.template_peers for a in sharing}["douyin:u3"] == ["weibo:u2"]

    # a fold writing what it read never stores them; a rerun replaces them all
    await loaded.write_batch([], list(found.values()))
    await loaded.save_rings({}, at=day(3), template_peers={"weibo:u1": ["weibo:u2"]})
    again = await loaded.get_accounts(list(found))
    assert {k: (a.ring, a.ring_weak, a.template_peers) for k, a in again.items()} == {
        "weibo:u1": (None, [], ["weibo:u2"]),
        "weibo:u2": (None, [], []),
        "douyin:u3": (None, [], []),
    }
