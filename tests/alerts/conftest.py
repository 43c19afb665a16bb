"""Fixtures: a real SMTP server (aiosmtpd) on a free loopback port, and the outbox of each
store kind (SQLite file; Elasticsearch index on an osmem clone, started only when an
Elasticsearch case runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alert_support import SmtpCapture, es_settings

from pipeline.alerts.outbox import Outbox
from pipeline.alerts.outbox_sqlite import SqliteOutbox
from pipeline.store.sqlite import SqliteStore


@pytest.fixture
def smtpd(free_port: int) -> Iterator[SmtpCapture]:
    server = SmtpCapture(free_port).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "elasticsearch"])
async def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outbox]:
    """An open, empty outbox beside an open store of the same kind (so reviews exist)."""
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "radar.sqlite3")
        await store.open()
        box: Outbox = SqliteOutbox(store.path, lease_seconds=60)
    else:
        from pipeline.alerts.outbox_es import ElasticsearchOutbox
        from pipeline.store.elasticsearch import ElasticsearchStore

        clone = request.getfixturevalue("osmem_clone")
        store = ElasticsearchStore(es_settings(clone.url))
        await store.open()
        box = ElasticsearchOutbox(store.settings, client=store.client, lease_seconds=60)
    await box.open()
    box.store = store  # type: ignore[attr-defined]  # for tests that write reviews
    try:
        yield box
    finally:
        await box.close()
        await store.close()
