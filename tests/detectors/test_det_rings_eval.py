"""Ring evaluation: pairwise precision / recall of ring membership, and the figures on
the labeled data (sample feed R1/R2, corpus CA1-CA3) against the ≥ 0.95 target."""

import io
import json
from pathlib import Path

import msgspec
import pytest

from detectors.ring_eval import (
    RingPostIn,
    evaluate_rings,
    group_accounts,
    pairwise,
    ring_report,
)

ROOT = Path(__file__).resolve().parents[2]


def test_pairwise_counts_pairs_and_treats_merged_outsiders_as_false_positives():
    truth = {"a": "R", "b": "R", "c": "R", "d": None, "e": None}
    perfect = pairwise({"a": "x", "b": "x", "c": "x"}, truth)
    assert (perfect.precision, perfect.recall) == (1.0, 1.0)
    split = pairwise({"a": "x", "b": "x", "c": "y"}, truth)
    assert (split.correct_pairs, split.true_pairs, split.predicted_pairs) == (1, 3, 1)
    merged = pairwise({"a": "x", "b": "x", "c": "x", "d": "x"}, truth)
    assert merged.predicted_pairs == 6 and merged.precision == 0.5 and merged.recall == 1.0
    outsiders = pairwise({"d": "x", "e": "x"}, truth)
    assert (outsiders.precision, outsiders.recall) == (0.0, 0.0)
    assert pairwise({}, {"d": None}).precision == 1.0


def test_posts_are_grouped_by_platform_and_author_with_the_first_bio():
    posts = [
        RingPostIn(id="1", text="a", platform="weibo", author_id="u", ring="R1"),
        RingPostIn(id="2", text="b", platform="weibo", author_id="u", author_bio="V: x"),
        RingPostIn(id="3", text="c", platform="douyin", author_id="u"),
        RingPostIn(id="4", text="d", platform="douyin"),
    ]
    got = group_accounts(posts)
    assert [(a["platform"], a["bio"], len(a["posts"])) for a in got.accounts] == [
        ("weibo", "V: x", 2),
        ("douyin", None, 1),
    ]
    assert got.truth == {"weibo:u": "R1", "douyin:u": None}


def _run(lines, detector, **kw):
    out, err = io.StringIO(), io.StringIO()
    code = evaluate_rings(lines, out, err, detector, **kw)
    return code, out.getvalue(), err.getvalue()


def _post(pid, author, text, ring=None, bio=None):
    rec = {"id": pid, "platform": "douyin", "author_id": author, "text": text, "ring": ring}
    if bio:
        rec["author_bio"] = bio
    return (json.dumps(rec, ensure_ascii=False) + "\n").encode()


def test_evaluate_rings_reports_text_and_json_and_skips_bad_lines(detector):
    lines = [
        _post("1", "a", "全额退保，不成功不收费！加微信 tuibao8866", "R"),
        _post("2", "b", "已交保费全额追回，前期0费用，V: tuibao_8866", "R"),
        _post("3", "c", "今天去公园散步"),
        b"{broken\n",
        b'{"id": "", "text": "x"}\n',
    ]
    code, out, err = _run(lines, detector)
    assert code == 1
    assert err.splitlines()[0].startswith("line 4: ") and err.splitlines()[1] == (
        "line 5: empty `id`"
    )
    assert "pairwise precision 1.000 (1/1), recall 1.000 (1/1)" in out
    code, out, _ = _run(lines[:3], detector, as_json=True)
    payload = json.loads(out)
    assert code == 0
    assert (payload["precision"], payload["recall"], payload["accounts"]) == (1.0, 1.0, 3)
    assert payload["true_rings"] == {"R": ["douyin:a", "douyin:b"]}


def _labeled(*paths):
    posts = []
    for path in paths:
        for line in (ROOT / path).read_bytes().splitlines():
            if line.strip():
                posts.append(json.loads(line))
    return group_accounts(msgspec.convert(posts, list[RingPostIn]))


@pytest.mark.parametrize(
    "paths",
    [
        ("collectors/samples/feed.jsonl",),
        ("detectors/corpus/train.jsonl", "detectors/corpus/dev.jsonl"),
        # the held-out split: evaluated here, never used to tune (CORPUS.md)
        ("detectors/corpus/test.jsonl",),
        (
            "collectors/samples/feed.jsonl",
            "detectors/corpus/train.jsonl",
            "detectors/corpus/dev.jsonl",
        ),
    ],
    ids=["feed", "corpus-train-dev", "corpus-test", "all-together"],
)
def test_rings_are_recovered_on_the_labeled_data(detector, paths):
    report = ring_report(_labeled(*paths), detector)
    assert report.true_rings  # the data really has rings to find
    assert report.score.precision >= 0.95, report.predicted_rings
    assert report.score.recall >= 0.95, report.predicted_rings
