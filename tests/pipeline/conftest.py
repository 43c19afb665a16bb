"""Fixtures the pipeline tests share: one detector per module (loading the model costs
a second), and an open SQLite store in the test's own directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors import Detector
from pipeline.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


@pytest.fixture
async def store(tmp_path: Path):
    opened = SqliteStore(tmp_path / "radar.sqlite3")
    await opened.open()
    yield opened
    await opened.close()
