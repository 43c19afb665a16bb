"""The outbox contract, held to the same behaviour on SQLite and on Elasticsearch (osmem).

Every test takes ``outbox`` (see conftest.py), parametrised over both store kinds."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
from alert_support import NOW, risk, rule, scored

from pipeline.alerts.outbox import Outbox
from pipeline.alerts.outbox_sqlite import SqliteOutbox
from pipeline.alerts.rules import evaluate
from pipeline.models import Alert, AlertStatus, Review, ReviewStatus, account_review_target


def alerts_for(*accounts: str, realert_hours: float = 72.0) -> list[Alert]:
    rules = [rule(realert_hours=realert_hours)]
    found: list[Alert] = []
    for account in accounts:
        post = scored(f"p-{account}", author=account)
        found += evaluate(rules, {}, [risk(account)], [post], NOW)
    return found


async def test_record_assigns_ids_and_makes_alerts_due(outbox: Outbox) -> None:
    recorded = await outbox.record(alerts_for("u1", "u2"), NOW)
    assert [a.id for a in recorded] == ["high_risk:weibo:u1#email#1", "high_risk:weibo:u2#email#1"]
    assert all(a.status == AlertStatus.PENDING and a.next_attempt_at == NOW for a in recorded)
    listed = await outbox.list()
    assert {a.id for a in listed} == {a.id for a in recorded}
    stored = next(a for a in listed if a.account_key == "weibo:u1")
    # The whole alert survives the round trip, evidence included.
    assert stored.evidence == recorded[0].evidence
    assert stored.created_at == NOW
    assert await outbox.counts() == {"pending": 2, "sent": 0, "failed": 0}


async def test_a_replayed_batch_records_nothing_new(outbox: Outbox) -> None:
    assert len(await outbox.record(alerts_for("u1"), NOW)) == 1
    assert await outbox.record(alerts_for("u1"), NOW) == []
    assert await outbox.record(alerts_for("u1"), NOW + timedelta(hours=71)) == []
    assert len(await outbox.list()) == 1


async def test_after_the_realert_window_the_same_key_alerts_again(outbox: Outbox) -> None:
    await outbox.record(alerts_for("u1"), NOW)
    again = await outbox.record(alerts_for("u1"), NOW + timedelta(hours=73))
    assert [a.id for a in again] == ["high_risk:weibo:u1#email#2"]
    # ...and the window restarts from the newest alert.
    assert await outbox.record(alerts_for("u1"), NOW + timedelta(hours=100)) == []


async def test_one_batch_with_the_same_key_twice_records_it_once(outbox: Outbox) -> None:
    twice = alerts_for("u1") + alerts_for("u1")
    assert len(await outbox.record(twice, NOW)) == 1


async def test_two_workers_recording_the_same_alert_record_it_once(outbox: Outbox) -> None:
    both = await asyncio.gather(
        outbox.record(alerts_for("u1"), NOW), outbox.record(alerts_for("u1"), NOW)
    )
    assert sorted(len(recorded) for recorded in both) == [0, 1]
    assert len(await outbox.list()) == 1


async def test_channels_are_separate_slots(outbox: Outbox) -> None:
    email = alerts_for("u1")[0]
    hook = msgspec.structs.replace(email, channel="webhook")
    recorded = await outbox.record([email, hook], NOW)
    assert sorted(a.id for a in recorded) == [
        "high_risk:weibo:u1#email#1",
        "high_risk:weibo:u1#webhook#1",
    ]


async def test_due_claims_alerts_for_the_lease(outbox: Outbox) -> None:
    await outbox.record(alerts_for("u1", "u2", "u3"), NOW)
    assert await outbox.due(NOW - timedelta(seconds=1)) == []
    first = await outbox.due(NOW, limit=2)
    assert len(first) == 2
    second = await outbox.due(NOW)  # another sender: only what the first did not claim
    assert len(second) == 1
    assert {a.id for a in first}.isdisjoint(a.id for a in second)
    assert await outbox.due(NOW + timedelta(seconds=30)) == []
    # A claim whose sender died is due again once the lease (60 s here) ends.
    assert len(await outbox.due(NOW + timedelta(seconds=61))) == 3


async def test_concurrent_senders_never_get_the_same_alert(outbox: Outbox) -> None:
    await outbox.record(alerts_for(*[f"u{i}" for i in range(8)]), NOW)
    batches = await asyncio.gather(*(outbox.due(NOW, limit=8) for _ in range(4)))
    ids = [a.id for batch in batches for a in batch]
    assert len(ids) == len(set(ids)) == 8


async def test_mark_sent_and_failed_move_the_status(outbox: Outbox) -> None:
    one, two, three = await outbox.record(alerts_for("u1", "u2", "u3"), NOW)
    later = NOW + timedelta(minutes=5)
    await outbox.mark_sent(one.id, later)
    await outbox.mark_failed(two.id, "connection refused", NOW + timedelta(minutes=1))
    await outbox.mark_failed(three.id, "550 no such user", None)
    by_id = {a.id: a for a in await outbox.list()}
    assert by_id[one.id].status == AlertStatus.SENT and by_id[one.id].sent_at == later
    assert by_id[one.id].attempts == 1
    assert by_id[two.id].status == AlertStatus.PENDING and by_id[two.id].attempts == 1
    assert by_id[two.id].last_error == "connection refused"
    assert by_id[three.id].status == AlertStatus.FAILED
    assert await outbox.counts() == {"pending": 1, "sent": 1, "failed": 1}
    assert [a.id for a in await outbox.list(status="failed")] == [three.id]
    assert [a.id for a in await outbox.due(NOW + timedelta(minutes=1))] == [two.id]
    # A sent alert still holds its slot: the same key inside the window records nothing.
    assert await outbox.record(alerts_for("u1"), later) == []


async def test_dismissed_reads_the_stores_reviews(outbox: Outbox) -> None:
    store = outbox.store  # type: ignore[attr-defined]
    await store.set_review(
        Review(target=account_review_target("weibo:u1"), status=ReviewStatus.DISMISSED)
    )
    await store.set_review(
        Review(target=account_review_target("weibo:u2"), status=ReviewStatus.CONFIRMED)
    )
    asked = [account_review_target(k) for k in ("weibo:u1", "weibo:u2", "weibo:u3")]
    assert await outbox.dismissed(asked) == {account_review_target("weibo:u1")}
    assert await outbox.dismissed([]) == set()


async def test_sqlite_outbox_migrates_a_file_the_store_never_opened(tmp_path) -> None:
    box = SqliteOutbox(tmp_path / "fresh.sqlite3")
    await box.open()
    try:
        assert await box.counts() == {"pending": 0, "sent": 0, "failed": 0}
        assert await box.dismissed(["account:weibo:u1"]) == set()
    finally:
        await box.close()
