"""The live template bonus: the ring job finds accounts posting a counted ad template,
sends each whose answer changed an ``AccountFact``, and the fold that owns the account
raises its score, as ``radar scan --accounts`` does.

Real posts through the real detector, fold and SQLite store, as in test_rings_job.py;
the embedded runner's writer and the scale-out worker's batch logic each apply the facts
(the broker path is in tests/integration/test_publisher.py).
"""

from __future__ import annotations

import asyncio
import json

from test_rings_job import PLAIN, SAME_AD, SCAMMER, _settings, ingest, post

from collectors.files import FilesSourceSettings
from detectors.accounts import TEMPLATE_REASON, AccountPolicy, with_template_bonus
from pipeline.models import AccountFact, AccountRisk
from pipeline.rings.facts import store_sink, template_facts
from pipeline.rings.job import RingInputs, eligible_accounts, find_live_rings
from pipeline.rings.schedule import run_scheduled_rings
from pipeline.runner import Runner
from pipeline.store.sqlite import SqliteStore
from tests.pipeline.copied_ads import feed_with_copied_ads, scanned_accounts

POLICY = AccountPolicy()


async def account(store: SqliteStore, account_id: str) -> AccountRisk:
    found = await store.get_account("weibo", account_id)
    assert found is not None
    return found


async def test_sharing_accounts_are_raised_once_and_a_rerun_sends_nothing(store, detector):
    await ingest(store, detector, [post("scam1", SCAMMER), post("t", SAME_AD), post("n", PLAIN)])
    before = {key: await account(store, key) for key in ("scam1", "t", "n")}

    run = await find_live_rings(store, facts=store_sink(store))

    assert run.facts == [AccountFact("weibo:scam1", True), AccountFact("weibo:t", True)]
    for key in ("scam1", "t"):
        raised = await account(store, key)
        assert raised.shares_template and raised.reasons[0].endswith(TEMPLATE_REASON)
        assert raised.score == with_template_bonus(before[key].score, POLICY)
    assert await account(store, "n") == before["n"]

    again = await find_live_rings(store, facts=store_sink(store))
    assert again.facts == []  # the store already says so: nothing to send, no second bonus
    assert (await account(store, "t")).score == with_template_bonus(before["t"].score, POLICY)

    await ingest(store, detector, [post("t", PLAIN, n=2)])  # a later fold keeps the bonus
    assert (await account(store, "t")).score == with_template_bonus(before["t"].score, POLICY)


async def test_the_bonus_is_taken_back_when_the_template_is_no_longer_shared(store, detector):
    await ingest(store, detector, [post("scam1", SCAMMER), post("t", SAME_AD)])
    plain_t = await account(store, "t")
    await find_live_rings(store, facts=store_sink(store))
    assert (await account(store, "t")).shares_template

    # scam1's only ad, edited into chatter (same post key): nobody else posts t's copy now
    await ingest(store, detector, [post("scam1", PLAIN)])
    run = await find_live_rings(store, facts=store_sink(store))

    assert AccountFact("weibo:t", False) in run.facts
    t = await account(store, "t")
    assert not t.shares_template and (t.score, t.reasons) == (plain_t.score, plain_t.reasons)


def test_eligibility_counts_the_bonus_once() -> None:
    lifted = round(POLICY.high_score - POLICY.template_bonus / 2, 4)  # bonus lifts it over
    inputs = RingInputs(scores={"weibo:a": lifted, "weibo:b": lifted}, flagged={"weibo:f"})
    inputs.sharing.add("weibo:b")  # b's stored score carries the bonus already
    assert eligible_accounts(inputs, {"weibo:a", "weibo:b"}, POLICY) == {"weibo:a", "weibo:f"}


def test_facts_name_only_the_accounts_whose_answer_changed() -> None:
    stored, sharing = {"weibo:a", "weibo:b"}, {"weibo:b", "weibo:c"}
    assert template_facts(stored, sharing) == [
        AccountFact("weibo:a", False),
        AccountFact("weibo:c", True),
    ]


async def _until(check, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_running_runner_folds_the_facts_in_its_writer(tmp_path, store, detector):
    feed = tmp_path / "feed.jsonl"
    lines = [
        {"id": "1", "platform": "weibo", "text": SCAMMER, "author_id": "s1"},
        {"id": "2", "platform": "weibo", "text": SAME_AD, "author_id": "t"},
    ]
    feed.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    settings = _settings(tmp_path)
    runner = Runner(settings, store, detector, [FilesSourceSettings(name="f", path=str(feed))])
    await runner.start(schedule=False)
    try:
        await runner.collect_once("f")
        await _until(lambda: _stored(store, "weibo:t"))
        plain = await account(store, "t")

        await run_scheduled_rings(store, settings, runner.submit_facts)
        await _until(lambda: _shares(store, "weibo:t"))
        assert (await account(store, "t")).score == with_template_bonus(plain.score, POLICY)

        # the writer's own cache holds the fact: its next fold of t keeps the bonus
        later = {"id": "3", "platform": "weibo", "text": PLAIN, "author_id": "t"}
        with feed.open("a", encoding="utf-8") as out:
            out.write(json.dumps(later, ensure_ascii=False) + "\n")
        await runner.collect_once("f")
        await _until(lambda: _posts(store, "weibo:t", 2))
        t = await account(store, "t")
        assert t.score == with_template_bonus(plain.score, POLICY) and t.shares_template
    finally:
        await runner.stop()


async def _stored(store: SqliteStore, key: str) -> bool:
    return key in await store.get_accounts([key])


async def _shares(store: SqliteStore, key: str) -> bool:
    found = (await store.get_accounts([key])).get(key)
    return found is not None and found.shares_template


async def _posts(store: SqliteStore, key: str, n: int) -> bool:
    found = (await store.get_accounts([key])).get(key)
    return found is not None and found.total_posts == n


async def test_an_import_scores_accounts_as_the_scan_does(tmp_path, store, detector):
    """``radar import`` (detect, fold, store, then the ring job and its facts) against
    ``radar scan --accounts`` over the same posts: the same score and flag for every
    account, the template bonus included."""
    feed = tmp_path / "feed.jsonl"
    records = feed_with_copied_ads(detector)
    feed.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    scanned = scanned_accounts(records, detector)
    source = FilesSourceSettings(name="sample", path=str(feed))
    runner = Runner(_settings(tmp_path), store, detector, [source])
    await runner.start(schedule=False)
    await runner.run_sources_once()

    live = await store.get_accounts(list(scanned))
    assert len(live) == len(scanned)
    raised = sorted(key for key, risk in live.items() if risk.shares_template)
    assert len(raised) == 9, raised  # three ads, each by its author and two copiers
    for key in (k for k in raised if "copier" in k):  # one post each: its score + bonus
        risk = live[key]
        assert risk.score == with_template_bonus(max(risk.post_scores.values()), POLICY)
    assert any(live[k].score < 1.0 for k in raised)  # the bonus shows, not just the cap
    mismatched = {
        key: ((risk.score, risk.flagged), (scanned[key]["score"], scanned[key]["flagged"]))
        for key, risk in live.items()
        if (risk.score, risk.flagged) != (scanned[key]["score"], scanned[key]["flagged"])
    }
    assert mismatched == {}
