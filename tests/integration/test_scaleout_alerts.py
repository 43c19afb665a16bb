"""Alerts and takedown lists in the scale-out mode, on real servers: tansu (Kafka API),
osmem (Elasticsearch API), aiosmtpd (SMTP), two ``radar worker`` processes.

Both workers record alerts in the Elasticsearch outbox and both run a sender; the
outbox's leases must keep any alert from going out twice. Then the investigator side:
``radar alerts`` lists what was sent, and ``radar takedown`` lists the one account an
investigator confirmed, from the same Elasticsearch store the workers wrote.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from scaleout_support import (
    Tansu,
    Worker,
    create_topic,
    generate_posts,
    produce,
    produce_raw,
    radar_cli,
    start_osmem,
    write_config,
)

from detectors import Detector
from pipeline.kafka_settings import ALERTS_TOPIC
from pipeline.models import Review, ReviewStatus, account_review_target
from pipeline.stages import fold_accounts, score_posts
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.es_settings import ElasticsearchSettings
from tests.alerts.alert_support import SmtpCapture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

POSTS = 1_200
ACCOUNTS = 600  # two posts each: some accounts stay clean
PARTITIONS = 4
MIN_SCORE = 0.9
RECIPIENT = "regulator@example.org"


def _alert_config(smtp_port: int) -> str:
    return f"""
[alerts]
send_interval_seconds = 0.5
[alerts.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "radar@example.org"
[[alerts.rules]]
name = "high_risk"
min_score = {MIN_SCORE}
recipients = ["{RECIPIENT}"]
"""


async def _alerts_topic(bootstrap: str) -> list[str]:
    """Keys of every record on ``radar.alerts``."""
    consumer = AIOKafkaConsumer(
        ALERTS_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    keys: list[str] = []
    try:
        while batches := await consumer.getmany(timeout_ms=2000):
            keys += [r.key.decode() for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return keys


async def test_workers_alert_once_per_account_and_takedown_reads_their_store(
    tmp_path: Path, free_port: int
) -> None:
    posts = generate_posts(POSTS, ACCOUNTS)
    accounts = fold_accounts(score_posts(Detector(), posts), {})
    crossing = {k for k, r in accounts.items() if r.flagged and r.score >= MIN_SCORE}
    assert crossing and len(crossing) < len(accounts)  # the sample has both kinds

    tansu = Tansu.start(tmp_path / "tansu.log")
    osmem = start_osmem()
    smtpd = SmtpCapture(free_port).start()
    probe = ElasticsearchStore(ElasticsearchSettings(hosts=[osmem.url], compat="opensearch"))
    config = write_config(tmp_path / "radar.toml", tansu.bootstrap, osmem.url)
    with config.open("a", encoding="utf-8") as fh:
        fh.write(_alert_config(free_port))
    workers = [Worker(config, tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        await create_topic(tansu.bootstrap, PARTITIONS)
        for worker in workers:
            worker.start()
        # Half the posts one per message (as another producer may send them), the rest
        # bundled as `radar collect` sends them, and one record that is no post between.
        half = len(posts) // 2
        await produce(tansu.bootstrap, posts[:half], bundle_posts=1)
        await produce_raw(tansu.bootstrap, b'{"platform": "weibo", "text": 12', b"weibo:x")
        await produce(tansu.bootstrap, posts[half:])

        await probe.open()
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            for worker in workers:
                assert worker.process and worker.process.poll() is None, worker.log()[-3000:]
            mailed = {m["X-Radar-Account"] or "" for m in smtpd.messages}
            if await probe.count_posts() == POSTS and len(mailed) >= len(crossing):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(3.0)  # a second send of anything would show up by now
        topic_keys = await _alerts_topic(tansu.bootstrap)

        # The investigator confirms one alerted account; the takedown job lists only it.
        confirmed = sorted(crossing)[0]
        await probe.set_review(
            Review(target=account_review_target(confirmed), status=ReviewStatus.CONFIRMED)
        )
        listed = radar_cli(config, "alerts", "--json", "--limit", "1000")
        takedown = radar_cli(config, "takedown", "--out", str(tmp_path / "lists"))
        reported = await probe.reported_accounts()
        stats = await probe.stats()
    finally:
        for worker in workers:
            worker.stop()
        await probe.close()
        smtpd.stop()
        osmem.close()
        tansu.stop()

    assert stats.rejects == 1  # the broken record is counted; nothing else was lost
    subjects = [m["Subject"] for m in smtpd.messages]
    per_account = Counter(m["X-Radar-Account"] for m in smtpd.messages)
    assert set(per_account) == crossing, subjects[:3]
    assert [k for k, n in per_account.items() if n > 1] == []  # two senders, each mail once
    assert all(to == [RECIPIENT] for _, to in smtpd.handler.envelopes)
    assert sorted(topic_keys) == sorted(crossing)  # radar.alerts carries what was recorded

    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert {r["account_key"] for r in body["alerts"]} == crossing
    assert {r["status"] for r in body["alerts"]} == {"sent"}
    assert body["counts"]["sent"] == len(crossing)

    assert takedown.returncode == 0, takedown.stderr
    assert "1 account(s)" in takedown.stdout
    assert reported == [confirmed]
    files = list((tmp_path / "lists").iterdir())
    assert files and all(
        confirmed.split(":", 1)[1] in f.read_text("utf-8-sig") for f in files if f.suffix == ".csv"
    )
