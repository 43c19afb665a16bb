"""``radar scan`` / ``radar scan --accounts`` / ``radar eval`` contracts (DESIGN.md)."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from detectors import Detector
from pipeline.scan import evaluate, scan_accounts, scan_posts

AD = "全额退保，不成功不收费！加微信 tuibao8866"
CHATTER = "今天去公园散步，天气很好"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def jl(*records) -> list[bytes]:
    return [
        (r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
        for r in records
    ]


def run(fn, lines, detector, **kw):
    out, err = io.StringIO(), io.StringIO()
    code = fn(lines, out, err, detector, **kw)
    return code, out.getvalue(), err.getvalue()


def test_scan_writes_one_verdict_per_post_in_order(detector):
    code, out, err = run(
        scan_posts,
        jl({"id": "a", "text": AD}, {"id": "b", "text": CHATTER}, {"id": "c", "text": AD}),
        detector,
    )
    assert code == 0 and err == ""
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v["id"] for v in verdicts] == ["a", "b", "c"]
    assert [v["flagged"] for v in verdicts] == [True, False, True]
    first = verdicts[0]
    assert list(first) == ["id", "flagged", "score", "categories", "evidence", "contacts"]
    assert 0 <= first["score"] <= 1
    assert first["categories"] == ["surrender"]
    for ev in first["evidence"]:
        assert list(ev) == ["start", "end", "text", "feature"]
        assert AD[ev["start"] : ev["end"]] == ev["text"]
    assert first["contacts"] == [{"kind": "wechat", "value": "tuibao8866", "start": 16, "end": 26}]
    assert AD[16:26] == "tuibao8866"


def test_optional_fields_are_accepted_and_bio_is_used(detector):
    post = {
        "id": "p1",
        "text": "正信花了不要慌，先来做个免费检测，能修复的帮你修复，修复不了不收钱",
        "platform": "xiaohongshu",
        "author_id": "u1",
        "author_name": "小美",
        "author_bio": "➕VX：zxxk_5566",
        "url": "https://example.invalid/p1",
        "created_at": "2025-03-01T10:00:00+08:00",
        "extra": {"ignored": True},
    }
    code, out, _ = run(scan_posts, jl(post), detector)
    verdict = json.loads(out)
    assert code == 0
    assert verdict["flagged"] is True
    assert verdict["contacts"] == []  # bio offsets would not index `text`


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "malformed"),
        (b'{"id": "x", "text": "\xff\xfe bad"}', "invalid UTF-8"),
        (b'{"text": "no id"}', "`id`"),
        (b'{"id": "x"}', "`text`"),
        (b'{"id": "", "text": "t"}', "empty `id`"),
        (b'{"id": "x", "text": "   "}', "empty `text`"),
        (b'{"id": 7, "text": "t"}', "Expected `str`, got `int`"),
        (b'{"id": "x", "text": ["t"]}', "Expected `str`, got `array`"),
        (b'["id", "text"]', "Expected `object`"),
        (b'{"id": "x", "text": "t", "author_bio": 5}', "author_bio"),
    ],
)
def test_malformed_line_is_reported_and_skipped(detector, raw, reason):
    lines = jl({"id": "ok1", "text": CHATTER}, raw, {"id": "ok2", "text": AD})
    code, out, err = run(scan_posts, lines, detector)
    assert code == 1
    assert [json.loads(x)["id"] for x in out.splitlines()] == ["ok1", "ok2"]
    assert err.startswith("line 2: ")
    assert reason in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_blank_lines_are_not_records_but_still_count(detector):
    lines = [b"\n", *jl({"id": "a", "text": AD}), b"   \r\n", b'{"id": 1}\n']
    code, out, err = run(scan_posts, lines, detector)
    assert code == 1
    assert len(out.splitlines()) == 1
    assert err.startswith("line 4: ")


def test_crlf_and_missing_final_newline(detector):
    lines = [b'{"id": "a", "text": "x"}\r\n', b'{"id": "b", "text": "y"}']
    code, out, _ = run(scan_posts, lines, detector)
    assert code == 0
    assert len(out.splitlines()) == 2


def test_long_text_is_cut_not_fatal(detector):
    code, out, _ = run(scan_posts, jl({"id": "big", "text": AD + "好" * 100_000}), detector)
    assert code == 0
    assert json.loads(out)["flagged"] is True


def test_scan_accounts_scores_and_links_rings(detector):
    accounts = [
        {
            "account_id": "a",
            "platform": "douyin",
            "nickname": "退保小王",
            "bio": None,
            "posts": [{"id": "1", "text": AD}],
        },
        {
            "account_id": "b",
            "platform": "douyin",
            "bio": "V：tuibao_8866",
            "posts": [{"id": "2", "text": "代理退保 私信"}],
        },
        {"account_id": "c", "platform": "weibo", "posts": [{"id": "3", "text": CHATTER}]},
    ]
    code, out, err = run(scan_accounts, jl(*accounts, b"{oops"), detector)
    assert code == 1
    assert err.startswith("line 4: ")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["account_id"] for r in rows] == ["a", "b", "c"]
    assert list(rows[0]) == [
        "account_id",
        "platform",
        "flagged",
        "score",
        "categories",
        "reasons",
        "ring",
    ]
    assert rows[0]["ring"] and rows[0]["ring"] == rows[1]["ring"]
    assert rows[2]["ring"] is None
    assert rows[0]["flagged"] and not rows[2]["flagged"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"platform": "x", "posts": []}',
        b'{"account_id": "a", "posts": [{"id": "1"}]}',
        b'{"account_id": "a", "posts": [{"id": "1", "text": ""}]}',
        b'{"account_id": "a", "posts": "nope"}',
    ],
)
def test_scan_accounts_rejects_malformed_accounts(detector, raw):
    code, out, err = run(scan_accounts, [raw], detector)
    assert code == 1
    assert out == ""
    assert err.startswith("line 1: ")


LABELED = [
    {"id": "p1", "text": AD, "label": 1, "category": "surrender", "obfuscation": []},
    {
        "id": "p2",
        "text": "停息挂账 个性化分期 电话 152 1234 5678",
        "label": 1,
        "category": "debt",
        "obfuscation": ["split_phone"],
    },
    {"id": "p3", "text": "征信有点花，想问问大家怎么办", "label": 1, "category": "credit"},
    {"id": "n1", "text": CHATTER, "label": 0, "category": None, "kind": "chatter"},
    {"id": "n2", "text": "警惕代理退保骗局，请通过正规渠道维权", "label": 0, "kind": "warning"},
]


def test_eval_prints_a_readable_table(detector):
    code, out, err = run(evaluate, jl(*LABELED), detector)
    assert code == 0 and err == ""
    assert "overall" in out
    assert "surrender (代理退保)" in out and "debt" in out and "credit" in out
    assert "P" in out and "R" in out and "F1" in out
    assert "false-positive rate on label-0 posts: 0.0000 (0/2)" in out
    assert "false-positive rate on hard negatives: 0.0000 (0/1)" in out
    assert "by kind:" in out and "chatter 0.00 (0/1), warning 0.00 (0/1)" in out
    assert "recall by obfuscation family:" in out and "split_phone 1.00 (1/1)" in out
    assert "worst mistakes:" in out
    assert "missed" in out and "p3" in out


def test_eval_json_is_machine_readable(detector):
    code, out, _ = run(
        evaluate, jl(*LABELED, {"id": "bad", "text": "x", "label": 2}), detector, as_json=True
    )
    assert code == 1
    data = json.loads(out)
    assert data["posts"] == 5
    assert data["overall"]["tp"] == 2 and data["overall"]["fn"] == 1
    assert data["overall"]["precision"] == 1.0
    assert data["by_category"]["surrender"]["recall"] == 1.0
    assert data["fp_rate"] == 0.0
    assert data["mistakes"][0]["id"] == "p3"
    assert data["detector_version"] == Detector().version
    assert data["hard_negatives"] == {"fp": 0, "n": 1, "fp_rate": 0.0}
    assert data["recall_by_obfuscation"]["split_phone"]["rate"] == 1.0
    assert data["recall_by_obfuscation"]["none"]["n"] == 2
    assert set(data["fp_by_kind"]) == {"chatter", "warning"}


def test_eval_scores_in_batches_like_the_runner(detector, monkeypatch):
    """Every post goes through detect_many (the classifier runs batched), in order."""
    import pipeline.scan as scan

    batches = []
    real = detector.detect_many

    def spy(posts):
        batches.append(len(posts))
        return real(posts)

    monkeypatch.setattr(detector, "detect_many", spy)
    monkeypatch.setattr(scan, "EVAL_BATCH", 2)
    code, out, _ = run(evaluate, jl(*LABELED), detector, as_json=True)
    assert code == 0
    assert batches == [2, 2, 1]
    assert json.loads(out)["overall"]["tp"] == 2


@pytest.mark.integration
def test_radar_scan_cli_never_prints_a_traceback():
    radar = Path(sys.executable).with_name("radar")
    if not radar.exists():
        pytest.skip("console script not installed")
    stdin = b"".join(jl({"id": "a", "text": AD}, b"\xff\xfe{", {"id": "b", "text": CHATTER}))
    proc = subprocess.run(
        [str(radar), "scan", "-"], input=stdin, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    assert proc.stderr.decode().startswith("line 2: invalid UTF-8")
    ids = [json.loads(line)["id"] for line in proc.stdout.decode().splitlines()]
    assert ids == ["a", "b"]
