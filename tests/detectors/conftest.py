import pytest

from detectors import Detector


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector()
