"""``produce_takedown_lists`` on both stores: only confirmed accounts, marked afterwards,
nothing listed twice, dry runs change nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from takedown_seed import LISTED, NOT_LISTED, NOW, review, seed_store

from pipeline.config import Settings, load_settings
from pipeline.models import ReviewStatus
from pipeline.store.base import Store
from pipeline.takedown.job import REVIEWER, produce_takedown_lists, write_files


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={"RADAR_DATA_DIR": str(tmp_path / "data")})


async def statuses(store: Store) -> dict[str, ReviewStatus]:
    out = {}
    for status in ReviewStatus:
        for account in await store.accounts_with_status(status):
            out[account.key] = status
    return out


async def test_confirmed_accounts_are_listed_then_reported(store: Store, settings) -> None:
    await seed_store(store)
    lists = await produce_takedown_lists(store, settings, NOW)

    assert [t.platform for t in lists] == ["douyin", "weibo"]
    listed = {e.key for t in lists for e in t.entries}
    assert listed == LISTED
    assert not listed & NOT_LISTED
    now = await statuses(store)
    assert {k for k, s in now.items() if s == ReviewStatus.REPORTED} == LISTED
    assert now["weibo:d1"] == ReviewStatus.DISMISSED
    assert now["weibo:n1"] == ReviewStatus.NEW
    assert now["weibo:m1"] == ReviewStatus.CONFIRMED  # a machine's "confirmed" is not enough
    reported = await store.accounts_with_status(ReviewStatus.REPORTED, "weibo")
    by_id = {t.platform: t.id for t in lists}
    for account in reported:
        assert account.review is not None
        assert (account.review.reviewer, account.review.note) == (REVIEWER, by_id["weibo"])
    assert sorted(await store.reported_accounts()) == sorted(LISTED)  # the recheck's work

    saved = [await store.get_takedown_list(t.id) for t in lists]
    assert saved == lists
    assert {s.id for s in await store.list_takedown_lists()} == {t.id for t in lists}


async def test_a_second_run_lists_nothing(store: Store, settings) -> None:
    await seed_store(store)
    first = await produce_takedown_lists(store, settings, NOW)
    again = await produce_takedown_lists(store, settings, NOW + timedelta(days=7))
    assert first and again == []
    assert len(await store.list_takedown_lists()) == len(first)


async def test_evidence_skips_unflagged_posts_and_is_escaped_on_export(
    store: Store, settings, tmp_path: Path
) -> None:
    await seed_store(store)
    lists = await produce_takedown_lists(store, settings, NOW, platforms=["weibo"])
    [weibo] = lists
    c1 = next(e for e in weibo.entries if e.key == "weibo:c1")
    assert [ev.post_key for ev in c1.evidence] == ["weibo:c1a", "weibo:c1b"]
    [csv_path] = write_files(lists, tmp_path / "out", ["csv"], settings)
    text = csv_path.read_text("utf-8-sig")
    assert "'=HYPERLINK" in text and ',"=HYPERLINK' not in text


async def test_dry_run_changes_nothing(store: Store, settings) -> None:
    await seed_store(store)
    before = await statuses(store)
    lists = await produce_takedown_lists(store, settings, NOW, dry_run=True)
    assert {e.key for t in lists for e in t.entries} == LISTED
    assert await statuses(store) == before
    assert await store.list_takedown_lists() == []


async def test_platforms_limit_the_run(store: Store, settings) -> None:
    await seed_store(store)
    lists = await produce_takedown_lists(store, settings, NOW, platforms=["douyin"])
    assert [(t.platform, t.accounts) for t in lists] == [("douyin", ["douyin:c3"])]
    assert (await statuses(store))["weibo:c1"] == ReviewStatus.CONFIRMED
    settings.takedown.platforms = ["weibo"]
    lists = await produce_takedown_lists(store, settings, NOW)
    assert [t.platform for t in lists] == ["weibo"]


async def test_a_saved_but_unmarked_list_is_not_produced_again(store: Store, settings) -> None:
    """The job stopped between saving a list and marking its accounts."""
    await seed_store(store)
    crashed = await produce_takedown_lists(store, settings, NOW, dry_run=True)
    for takedown in crashed:
        await store.save_takedown_list(takedown)

    later = await produce_takedown_lists(store, settings, NOW + timedelta(days=7))
    assert later == []
    reported = await store.accounts_with_status(ReviewStatus.REPORTED)
    ids = {t.platform: t.id for t in crashed}
    assert {a.key: a.review.note for a in reported if a.review} == {
        key: ids[key.split(":")[0]] for key in LISTED
    }
    assert len(await store.list_takedown_lists()) == len(crashed)


class DismissDuringRun:
    """A store whose second ``accounts_with_status`` call sees an investigator's fresh
    dismissal, as if it was clicked while the job was reading posts."""

    def __init__(self, store: Store, key: str) -> None:
        self._store = store
        self._key = key
        self._calls = 0

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    async def accounts_with_status(self, status, platform=None, **kw):
        self._calls += 1
        if self._calls == 2:
            await self._store.set_review(review(self._key, ReviewStatus.DISMISSED, "wang", day=6))
        return await self._store.accounts_with_status(status, platform, **kw)


async def test_an_account_dismissed_during_the_run_is_left_out(store: Store, settings) -> None:
    await seed_store(store)
    racing = DismissDuringRun(store, "weibo:c2")
    lists = await produce_takedown_lists(racing, settings, NOW)  # type: ignore[arg-type]
    assert {e.key for t in lists for e in t.entries} == LISTED - {"weibo:c2"}
    assert (await statuses(store))["weibo:c2"] == ReviewStatus.DISMISSED
