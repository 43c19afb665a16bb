"""``radar eval`` sections: hard negatives, obfuscation families, kinds, mistakes."""

from detectors.evaluate import (
    EvalRow,
    build_report,
    format_report,
    hard_negative_rate,
    is_hard_negative,
    recall_by_obfuscation,
)


def row(i, label, flagged, kind=None, obfuscation=(), vocabulary=False, category=None):
    return EvalRow(
        id=f"p{i}",
        label=label,
        category=category,
        flagged=flagged,
        score=0.9 if flagged else 0.1,
        predicted=(category,) if flagged and category else (),
        text=f"text {i}",
        kind=kind,
        obfuscation=tuple(obfuscation),
        vocabulary=vocabulary,
    )


ROWS = [
    row(1, 1, True, "scheme", ["homophone", "bio_contact"], True, "surrender"),
    row(2, 1, False, "scheme", ["homophone"], True, "surrender"),
    row(3, 1, True, "scheme", [], True, "debt"),
    row(4, 0, True, "warning", vocabulary=True, category="surrender"),
    row(5, 0, False, "news", vocabulary=True),
    row(6, 0, False, "chatter"),  # easy: no vocabulary, small talk
    row(7, 0, True, "lookalike", vocabulary=False),  # easy kind, nothing matched
    row(8, 0, False, "lookalike", vocabulary=True),  # look-alike sharing vocabulary: hard
    row(9, 0, False, None, vocabulary=False),  # unknown kind, nothing matched: easy
]


def test_hard_negatives_are_vocabulary_or_non_trivial_kinds():
    hard = [r.id for r in ROWS if is_hard_negative(r)]
    assert hard == ["p4", "p5", "p8"]
    rate = hard_negative_rate(ROWS)
    assert (rate.hits, rate.n) == (1, 3)


def test_recall_per_obfuscation_family_counts_every_tag():
    rates = recall_by_obfuscation(ROWS)
    assert (rates["homophone"].hits, rates["homophone"].n) == (1, 2)
    assert (rates["bio_contact"].hits, rates["bio_contact"].n) == (1, 1)
    assert (rates["none"].hits, rates["none"].n) == (1, 1)
    assert "warning" not in rates  # negatives never count towards recall


def test_report_has_every_section_as_text_and_json():
    report = build_report(ROWS)
    text = format_report(report)
    for needle in (
        "overall",
        "surrender (代理退保)",
        "false-positive rate on label-0 posts: 0.3333 (2/6)",
        "false-positive rate on hard negatives: 0.3333 (1/3)",
        "by kind:",
        "chatter 0.00 (0/1)",
        "recall by obfuscation family:",
        "homophone 0.50 (1/2)",
        "worst mistakes:",
        "missed",
        "false alarm",
    ):
        assert needle in text, needle
    data = report.as_dict()
    assert data["hard_negatives"] == {"fp": 1, "n": 3, "fp_rate": 0.3333}
    assert data["recall_by_obfuscation"]["homophone"] == {"hits": 1, "n": 2, "rate": 0.5}
    assert data["fp_by_kind"]["warning"] == {"hits": 1, "n": 1, "rate": 1.0}
    assert {m["id"] for m in data["mistakes"]} == {"p2", "p4", "p7"}
    assert data["mistakes"][0]["kind"] is not None


def test_text_lines_stay_narrow():
    tags = [f"family_{i}" for i in range(30)]
    report = build_report([row(i, 1, i % 2 == 0, "scheme", tags) for i in range(4)])
    assert all(len(line) <= 100 for line in format_report(report).splitlines())
