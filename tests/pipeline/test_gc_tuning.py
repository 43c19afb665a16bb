"""The worker's collector settings: start-up objects frozen, young ones collected rarely."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pipeline.gc_tuning import STREAMING_THRESHOLDS, tune_for_streaming


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's own collector settings, put back after the test."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_up_objects_are_frozen_and_the_thresholds_raised(restored_gc: None) -> None:
    start_up = [[n] for n in range(1_000)]  # containers alive before tuning
    gc.unfreeze()
    tune_for_streaming()
    assert gc.get_threshold() == STREAMING_THRESHOLDS
    assert gc.get_freeze_count() >= len(start_up)
    tracked = {id(obj) for obj in gc.get_objects()}  # what a collection would still walk
    assert not any(id(obj) in tracked for obj in start_up)


def test_cyclic_garbage_made_after_tuning_is_still_collected(restored_gc: None) -> None:
    tune_for_streaming()

    class Node:
        pass

    collected: list[str] = []
    node = Node()
    node.self = node  # type: ignore[attr-defined]  # a cycle: reference counts never free it

    weakref.finalize(node, collected.append, "freed")
    del node
    gc.collect(0)
    assert collected == ["freed"]
