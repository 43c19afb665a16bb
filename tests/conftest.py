"""Fixtures every test directory may use; a directory's own conftest overrides them
(tests/store and tests/takedown run ``store`` over both stores, tests/dashboards a fake)."""

import socket
from pathlib import Path

import pytest

from pipeline.store.sqlite import SqliteStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture
async def store(tmp_path: Path):
    """An open SQLite store in the test's own directory."""
    opened = SqliteStore(tmp_path / "radar.sqlite3")
    await opened.open()
    yield opened
    await opened.close()
