"""Reads by review status page through long result sets on both stores."""

from __future__ import annotations

import pytest
from takedown_seed import account, review

from pipeline.models import ReviewStatus
from pipeline.store import es_takedown
from pipeline.store.base import Store


async def test_many_confirmed_accounts_come_back_whole_and_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(es_takedown, "_PAGE", 3)  # several search_after pages on ES
    accounts = [account("weibo", f"u{i:02d}") for i in range(10)]
    await store.write_batch([], accounts)
    for i, acc in enumerate(accounts):
        await store.set_review(review(acc.key, day=10 - i))  # u09 decided first
    found = await store.accounts_with_status(ReviewStatus.CONFIRMED)
    assert [a.key for a in found] == [f"weibo:u{i:02d}" for i in reversed(range(10))]
    assert len(await store.accounts_with_status(ReviewStatus.CONFIRMED, limit=7)) == 7
    extra = [account("weibo", f"n{i:02d}") for i in range(5)]
    await store.write_batch([], extra)
    never = await store.accounts_with_status(ReviewStatus.NEW)
    assert [a.key for a in never] == [f"weibo:n{i:02d}" for i in range(5)]
