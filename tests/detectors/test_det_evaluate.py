"""Metric functions used by ``radar eval``."""

import pytest

from detectors.evaluate import (
    EvalRow,
    build_report,
    category_counts,
    confusion,
    false_positive_rate,
    format_report,
    worst_mistakes,
)


def row(i, label, cat, flagged, score, predicted=()):
    return EvalRow(str(i), label, cat, flagged, score, tuple(predicted), f"text {i}")


ROWS = [
    row(1, 1, "surrender", True, 0.9, ["surrender"]),
    row(2, 1, "surrender", False, 0.1),
    row(3, 1, "debt", True, 0.8, ["debt", "credit"]),
    row(4, 0, None, True, 0.7, ["credit"]),
    row(5, 0, None, False, 0.2),
    row(6, 0, None, False, 0.3),
]


def test_confusion_counts_and_rates():
    c = confusion(ROWS)
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 1, 2)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 / 3)


def test_per_category_counts_false_alarms_only_on_negatives():
    credit = category_counts(ROWS, "credit")
    # row 3 is a real (debt) ad also filed under credit: not a false alarm
    assert (credit.tp, credit.fp, credit.fn) == (0, 1, 0)
    surrender = category_counts(ROWS, "surrender")
    assert (surrender.tp, surrender.fp, surrender.fn) == (1, 0, 1)


def test_false_positive_rate_on_label_zero():
    assert false_positive_rate(ROWS) == (pytest.approx(1 / 3), 3)
    assert false_positive_rate([]) == (0.0, 0)


def test_worst_mistakes_come_first():
    worst = worst_mistakes(ROWS, limit=10)
    assert [m.id for m in worst] == ["2", "4"]
    assert worst_mistakes(ROWS, limit=1)[0].id == "2"


def test_empty_counts_do_not_divide_by_zero():
    c = confusion([])
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)


def test_report_text_and_dict():
    report = build_report(ROWS)
    assert list(report.by_category) == ["surrender", "debt"]
    text = format_report(report)
    assert "overall" in text and "surrender (代理退保)" in text
    assert "false-positive rate on label-0 posts: 0.3333 (1/3)" in text
    assert "missed" in text and "false alarm" in text
    data = report.as_dict()
    assert data["overall"]["tp"] == 2
    assert data["fp_rate"] == 0.3333
    assert data["mistakes"][0]["id"] == "2"
