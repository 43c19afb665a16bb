"""``store``: an opened, empty store of each kind (SQLite file; Elasticsearch API on an
osmem clone, as in tests/store), so the job and the pages are checked on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.store.base import Store
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "elasticsearch"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "data" / "radar.sqlite3")
    else:
        clone = request.getfixturevalue("osmem_clone")
        opened = ElasticsearchStore(
            ElasticsearchSettings(
                hosts=[clone.url], compat="opensearch", request_timeout=10.0, retries=1
            )
        )
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
