"""A feed with copy-paste ads: the bundled sample feed plus three of its ads posted again,
word for word, by new accounts; and what ``radar scan --accounts`` makes of it. The live
template bonus (the ring job's facts, in either runner) must give the scan's scores."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from detectors import Detector
from detectors.accounts import score_accounts

SAMPLE_FEED = Path(__file__).resolve().parents[2] / "collectors" / "samples" / "feed.jsonl"


def feed_with_copied_ads(detector: Detector) -> list[dict[str, Any]]:
    """The sample feed, plus three of its ads posted again, word for word, by two new
    accounts each: the copy-paste reuse the template bonus is for (the bundled feed itself
    has none). The ads chosen are the lowest scored of those the detector flags, so that
    the bonus shows in the score (most ads score ~1.0, where it cannot)."""
    records = [json.loads(line) for line in SAMPLE_FEED.read_text("utf-8").splitlines()]
    scored = [
        (verdict.score, n, r)
        for n, r in enumerate(records)
        if r.get("author_id")
        and (verdict := detector.detect(r["text"], r.get("author_bio")))
        and verdict.flagged
    ]
    ads = [r for _, _, r in sorted(scored)[:3]]
    for i, ad in enumerate(ads):
        for j in range(2):
            records.append({**ad, "id": f"copy-{i}-{j}", "author_id": f"copier-{i}-{j}"})
    return records


def scan_inputs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The feed's posts grouped by author, as ``radar scan --accounts`` reads them."""
    by_account: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("author_id"):
            by_account[(record["platform"], record["author_id"])].append(record)
    return [
        {
            "platform": platform,
            "account_id": author,
            "nickname": posts[-1].get("author_name"),
            "bio": posts[-1].get("author_bio"),
            "posts": [{"id": p["id"], "text": p["text"]} for p in posts],
        }
        for (platform, author), posts in by_account.items()
    ]


def scanned_accounts(records: list[dict[str, Any]], detector: Detector) -> dict[str, Any]:
    """Account key → ``radar scan --accounts``'s result for it."""
    return {
        f"{a['platform']}:{a['account_id']}": a
        for a in score_accounts(scan_inputs(records), detector)
    }
