"""Shared assertions for detector tests."""

from pipeline.models import Verdict


def assert_spans_index_original(text: str, verdict: Verdict) -> None:
    """Every evidence span and in-text contact is an exact slice of the original text."""
    for ev in verdict.evidence:
        assert 0 <= ev.start < ev.end <= len(text), ev
        assert text[ev.start : ev.end] == ev.text, ev
    for c in verdict.contacts:
        if not c.in_bio:
            assert text[c.start : c.end] == c.value, c
