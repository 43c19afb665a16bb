"""Fixtures the pipeline tests share: one detector per module (loading the model costs
a second); the SQLite ``store`` comes from tests/conftest.py."""

from __future__ import annotations

import pytest

from detectors import Detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()
