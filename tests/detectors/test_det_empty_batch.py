"""An empty batch is a normal batch: the runner's detect stage hands one over when it
stops (the stop marker arrives alone), and a raise there would hang the shutdown."""

from detectors import Detector


def test_empty_batches_give_empty_results(detector: Detector) -> None:
    assert detector.detect_many([]) == []
    assert detector.analyse_many([]) == []
