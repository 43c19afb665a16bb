"""End to end: the embedded runner plays the bundled sample feed with an alert rule and a
real SMTP server, on either store. Every account the detector flagged gets one mail, no
other account does, and replaying the whole feed sends nothing more."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alert_support import SmtpCapture, es_settings

from collectors.sample import SampleSourceSettings, bundled_feed_path
from detectors import Detector
from pipeline.config import Settings, load_settings
from pipeline.models import account_key
from pipeline.runner import Runner
from pipeline.store.base import Store
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.sqlite import SqliteStore

SUBJECT = re.compile(r"^\[黑产雷达\] 高风险账号 (\S+) \((\d\.\d\d)\) / High-risk account$")


def settings_for(tmp_path: Path, port: int, store: dict[str, Any]) -> Settings:
    alerts = {
        "rules": [
            {
                "name": "flagged_account",
                "when": "account_flagged",
                "min_score": 0.0,  # every account the detector flags
                "recipients": ["regulator@example.org"],
            }
        ],
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "radar@example.org",
        },
        "send_interval_seconds": 0.2,
    }
    overrides = {"data_dir": str(tmp_path / "data"), "alerts": alerts, "store": store}
    return load_settings(environ={}, overrides=overrides)


@pytest.fixture(params=["sqlite", "elasticsearch"])
async def kind_and_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[dict[str, Any], Store]]:
    store: Store
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "radar.sqlite3")
        config: dict[str, Any] = {"kind": "sqlite", "sqlite_path": str(tmp_path / "radar.sqlite3")}
    else:
        url = request.getfixturevalue("osmem_clone").url
        store = ElasticsearchStore(es_settings(url))
        config = {
            "kind": "elasticsearch",
            "elasticsearch": {"hosts": [url], "compat": "opensearch"},
        }
    await store.open()
    try:
        yield config, store
    finally:
        await store.close()


async def play(settings: Settings, store: Store, source: str) -> Runner:
    runner = Runner(
        settings, store, Detector(), [SampleSourceSettings(name=source, duration_seconds=0)]
    )
    assert runner.alerts is not None
    await runner.start(schedule=False)
    await runner.collect_once(source, force=True)
    return runner


async def settle(runner: Runner, smtpd: SmtpCapture, timeout: float = 60.0) -> None:
    """Wait until everything is written and nothing is pending in the outbox."""
    assert runner.alerts is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        c = runner.counters
        idle = c.collected > 0 and c.written + c.duplicates >= c.collected
        counts = await runner.alerts.outbox.counts()
        if idle and counts["pending"] == 0 and len(smtpd.messages) >= counts["sent"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"alerts did not settle: {await runner.alerts.outbox.counts()}")


def genuine_only_accounts() -> set[str]:
    """Accounts whose every post in the feed is labeled 0: warnings, news, complaints…"""
    labels: dict[str, set[int]] = {}
    for line in bundled_feed_path().read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("author_id"):
            key = account_key(record["platform"], record["author_id"])
            labels.setdefault(key, set()).add(int(record["label"]))
    return {key for key, seen in labels.items() if seen == {0}}


async def flagged_accounts(store: Store, tmp_path: Path) -> dict[str, float]:
    if isinstance(store, SqliteStore):
        with sqlite3.connect(tmp_path / "radar.sqlite3") as con:
            rows = con.execute("SELECT key, data FROM accounts WHERE flagged = 1").fetchall()
        return {key: json.loads(data)["score"] for key, data in rows}
    assert isinstance(store, ElasticsearchStore)
    resp = await store.client.search(
        index=f"{store.prefix}-accounts", query={"term": {"flagged": True}}, size=10_000
    )
    return {h["_id"]: h["_source"]["score"] for h in resp["hits"]["hits"]}


async def test_flagged_accounts_of_the_sample_feed_are_mailed_once_each(
    kind_and_store: tuple[dict[str, Any], Store], smtpd: SmtpCapture, tmp_path: Path
) -> None:
    config, store = kind_and_store
    settings = settings_for(tmp_path, smtpd.port, config)
    runner = await play(settings, store, "sample")
    await settle(runner, smtpd)
    await runner.stop()

    flagged = await flagged_accounts(store, tmp_path)
    mailed: dict[str, str] = {}
    for message in smtpd.messages:
        match = SUBJECT.match(message["Subject"])
        assert match, message["Subject"]
        assert match.group(1) not in mailed, f"{match.group(1)} mailed twice"
        mailed[match.group(1)] = match.group(2)
    assert len(flagged) > 50  # the feed has plenty of black-market accounts
    assert set(mailed) == set(flagged)  # each flagged account, and nothing else
    assert not set(mailed) & genuine_only_accounts()
    for key, score in mailed.items():
        assert score == f"{flagged[key]:.2f}"
    assert all(to == ["regulator@example.org"] for _, to in smtpd.handler.envelopes)

    # The whole feed again (a new source name: no checkpoint): same posts, same accounts,
    # nothing crosses any more, so nothing is recorded or sent.
    again = await play(settings, store, "sample-replay")
    await settle(again, smtpd)
    assert again.alerts is not None
    counts = await again.alerts.outbox.counts()
    await again.stop()
    assert counts == {"pending": 0, "sent": len(flagged), "failed": 0}
    assert len(smtpd.messages) == len(flagged)
