"""The store contract fixture: every test that takes ``store`` runs against each store kind.

To add a store, add a factory to ``STORE_FACTORIES``: an async context manager taking the
test's ``request`` and ``tmp_path`` that yields an opened, empty store and cleans up after
itself. Contract tests use only the ``Store`` protocol, so they hold every implementation
to the same behaviour. The SQLite store runs twice, with its writer on a thread and in a
child process (``store.sqlite_writer``).

The Elasticsearch store runs against osmem-server (an in-memory OpenSearch-compatible
server): one process per session (the osmem pytest plugin's ``osmem_server`` fixture, on a
free loopback port), and a fresh clone of its empty, frozen base per test (~10 ms), so
tests never see each other's indices. osmem refuses the official client's vendor media
type, so the store runs with ``compat = "opensearch"``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from pathlib import Path

import pytest
from store_factories import es_settings

from pipeline.store.base import Store
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.sqlite import SqliteStore
from pipeline.store.sqlite_writer import WriterKind


@contextlib.asynccontextmanager
async def _sqlite(
    request: pytest.FixtureRequest, tmp_path: Path, writer: WriterKind = "thread"
) -> AsyncIterator[Store]:
    store = SqliteStore(tmp_path / "store" / "radar.sqlite3", writer=writer)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _elasticsearch(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    clone = request.getfixturevalue("osmem_clone")  # started lazily: sqlite runs need none
    store = ElasticsearchStore(es_settings(clone.url))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


STORE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], AsyncContextManager[Store]]] = {
    "sqlite": _sqlite,
    # the writer in a child process: every write crosses pickle or msgpack and back
    "sqlite-process": functools.partial(_sqlite, writer="process"),
    "elasticsearch": _elasticsearch,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with STORE_FACTORIES[request.param](request, tmp_path) as opened:
        assert isinstance(opened, Store)
        yield opened
