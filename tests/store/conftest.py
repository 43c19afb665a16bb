"""The store contract fixture: every test that takes ``store`` runs against each store kind.

To add a store (the Elasticsearch one), add a factory to ``STORE_FACTORIES``: an async
context manager that yields an opened, empty store and cleans up after itself. Contract
tests use only the ``Store`` protocol, so they hold every implementation to the same
behaviour.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from pathlib import Path

import pytest

from pipeline.store.base import Store
from pipeline.store.sqlite import SqliteStore


@contextlib.asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[Store]:
    store = SqliteStore(tmp_path / "store" / "radar.sqlite3")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


STORE_FACTORIES: dict[str, Callable[[Path], AsyncContextManager[Store]]] = {
    "sqlite": _sqlite,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with STORE_FACTORIES[request.param](tmp_path) as opened:
        assert isinstance(opened, Store)
        yield opened
