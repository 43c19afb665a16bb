"""Builds the fixed train / dev / test split of the labeled corpus from ``parts/*.jsonl``.

A record may carry ``"split": "train" | "dev"``: data written later to fix a weakness
goes to train / dev explicitly, so the test split stays exactly what it was.

Split by *group*, not by post: every post of one account (and every account of one ring)
lands in the same split, so the test split never holds a near-copy of a training ad from
the same author. Groups are ordered by a hash of their key within each (label, category)
stratum and cut 70 / 15 / 15, so the split is deterministic and stable when posts are
added to other groups. Run: ``python detectors/corpus/split.py`` (``make train`` does).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARES = (("train", 0.70), ("dev", 0.15), ("test", 0.15))


def group_key(record: dict) -> str:
    if record.get("ring"):
        return f"ring:{record['ring']}"
    return f"author:{record['platform']}:{record.get('author_id') or record['id']}"


def split(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name, _ in SHARES}
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        if record.get("split") in ("train", "dev"):
            out[record["split"]].append(record)
        else:
            groups[group_key(record)].append(record)
    strata: dict[tuple, list[str]] = defaultdict(list)
    for key, members in groups.items():
        first = members[0]
        strata[(first["label"], first.get("category") or "")].append(key)
    for keys in strata.values():
        keys.sort(key=lambda k: hashlib.sha256(k.encode()).hexdigest())
        bounds, acc = [], 0.0
        for name, share in SHARES:
            acc += share
            bounds.append((name, round(acc * len(keys))))
        start = 0
        for name, end in bounds:
            for key in keys[start:end]:
                out[name].extend(groups[key])
            start = end
    for name in out:
        out[name].sort(key=lambda r: r["id"])
    return out


def main() -> None:
    records = []
    for part in sorted((HERE / "parts").glob("*.jsonl")):
        records += [json.loads(line) for line in part.read_text("utf-8").splitlines() if line]
    for name, rows in split(records).items():
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        positives = sum(r["label"] for r in rows)
        print(f"{name}: {len(rows)} posts, {positives} positive, {len(rows) - positives} negative")


if __name__ == "__main__":
    main()
