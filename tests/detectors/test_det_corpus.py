"""The detector on real text: the two seed news articles (negatives by definition) and the
sample feed (the development set the lexicon was tuned on)."""

import json
import re
from pathlib import Path

import pytest
from det_helpers import assert_spans_index_original

SEEDS = sorted(Path("/work/shared/seeds").glob("*.txt"))
FEED = Path(__file__).resolve().parents[2] / "collectors" / "samples" / "feed.jsonl"


def paragraphs() -> list[tuple[str, str]]:
    out = []
    for path in SEEDS:
        for para in re.split(r"\n+", path.read_text(encoding="utf-8")):
            if para.strip():
                out.append((path.name, para))
    return out


@pytest.mark.skipif(not SEEDS, reason="seed articles not present")
def test_no_seed_paragraph_is_flagged(detector):
    paras = paragraphs()
    assert len(paras) > 50
    flagged = []
    for name, para in paras:
        verdict = detector.detect(para)
        assert_spans_index_original(para, verdict)
        if verdict.flagged:
            flagged.append((name, para[:40], verdict.reasons))
    assert flagged == []


@pytest.mark.skipif(not SEEDS, reason="seed articles not present")
def test_whole_seed_articles_are_not_flagged(detector):
    for path in SEEDS:
        assert not detector.detect(path.read_text(encoding="utf-8")).flagged


def feed_rows() -> list[dict]:
    return [json.loads(line) for line in FEED.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.skipif(not FEED.exists(), reason="sample feed not present")
def test_feed_ads_flagged_and_nothing_else(detector):
    missed, false_alarms, wrong_category = [], [], []
    for r in feed_rows():
        verdict = detector.detect(r["text"], r.get("author_bio"))
        assert_spans_index_original(r["text"], verdict)
        if r["label"] and not verdict.flagged:
            missed.append((r["id"], r["text"][:40], verdict.reasons))
        elif not r["label"] and verdict.flagged:
            false_alarms.append((r["id"], r["text"][:40], verdict.reasons))
        elif r["label"] and r.get("category") not in verdict.categories:
            wrong_category.append((r["id"], r["category"], verdict.categories))
    assert false_alarms == []
    assert missed == []
    assert wrong_category == []
