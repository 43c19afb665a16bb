"""Validate the bundled sample feed and the held-out labeled set, and count them.

Why a script and not only a test: the two files are hand-written data, and their READMEs
quote counts. Running ``python tests/data/check_samples.py --markdown`` both checks every
invariant the detector's tests and ``radar eval`` rely on (fields, unique ids, label /
category / kind agreement, obfuscation tags that are really there, rings that really share
one contact, no overlap between the tuning feed and the held-out split) and prints the
tables the READMEs carry, so the numbers are measured, never guessed.

Exit status 1 if any problem is found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "collectors" / "samples" / "feed.jsonl"
HOLDOUT = ROOT / "tests" / "data" / "holdout.jsonl"

PLATFORMS = {
    "weibo": "https://weibo.com/",
    "douyin": "https://www.douyin.com/",
    "xiaohongshu": "https://www.xiaohongshu.com/",
    "bilibili": "https://www.bilibili.com/",
    "zhihu": ("https://www.zhihu.com/", "https://zhuanlan.zhihu.com/"),
    "kuaishou": "https://www.kuaishou.com/",
    "tieba": "https://tieba.baidu.com/",
}
CATEGORIES = ("surrender", "debt", "credit", "complaint", "other_scheme")
NEGATIVE_KINDS = ("chatter", "lookalike", "warning", "news", "complaint", "question")
NEGATIVE_KINDS += ("victim", "lawyer")
TAGS = {
    "homophone",
    "pinyin",
    "traditional",
    "fullwidth",
    "separator",
    "emoji",
    "zero_width",
    "digit_words",
    "split_phone",
    "bio_contact",
    "warning_disguise",
}
REQUIRED = ("id", "platform", "text", "author_id", "author_name", "url", "created_at")
REQUIRED += ("label", "category", "kind")
FIRST_DAY, LAST_DAY = "2026-10-01", "2026-11-20"

# One canonical contact per ring: how the ring is written varies, the canonical form not.
RING_CONTACTS = {"R1": "tuibao8866", "R2": "17538206614", "H1": "weiquan7799"}
DIGIT_WORDS = str.maketrans("零〇幺一二三四五六七八九壹贰叁肆伍陆柒捌玖", "001123456789123456789")
TOKEN = re.compile(r"[a-z0-9_\-]{6,}")
MARKED = re.compile(
    r"(?:vx|wx|v信|微信|威信|薇信|薇|围|微|v|qq|q|扣扣|企鹅)\s*[:：➕+]?\s*([a-z0-9_\-]{5,})"
)


def _fold(text: str) -> str:
    """NFKC (full-width to ASCII), lower case, zero-width characters removed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub("[\u200b-\u200d\u2060\ufeff]", "", text)


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _fold(text))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", _fold(text).translate(DIGIT_WORDS))


def has_ring_contact(text: str, canonical: str) -> bool:
    return canonical in (_digits(text) if canonical.isdigit() else _alnum(text))


def contact_tokens(text: str) -> set[str]:
    """Rough private-contact candidates: ASCII runs of 6+ holding a digit, ``_`` or ``-``
    (ids, numbers), or any ASCII run right after a contact word (``vx``, ``薇``, ``Q``)."""
    folded = _fold(text)
    found = {re.sub(r"[_\-]", "", t) for t in MARKED.findall(folded)}
    for token in TOKEN.findall(folded):
        if any(c.isdigit() or c in "_-" for c in token):
            found.add(re.sub(r"[_\-]", "", token))
    return {t for t in found if len(t) >= 5}


def load(path: Path) -> tuple[list[dict], list[str]]:
    records, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}:{number}: not JSON ({exc})")
            continue
        record["_line"] = f"{path.name}:{number}"
        records.append(record)
    return records, problems


def _check_record(r: dict, t2s) -> list[str]:
    where, out = r["_line"], []
    missing = [f for f in REQUIRED if f not in r]
    if missing:
        return [f"{where}: missing {missing}"]
    platform, text, bio = r["platform"], r["text"], r.get("author_bio") or ""
    if platform not in PLATFORMS:
        out.append(f"{where}: unknown platform {platform!r}")
    elif not r["url"].startswith(PLATFORMS[platform]):
        out.append(f"{where}: url {r['url']!r} is not on {platform}")
    if not isinstance(text, str) or not text.strip():
        out.append(f"{where}: empty text")
    created = datetime.fromisoformat(r["created_at"])
    if created.utcoffset() is None or created.utcoffset().total_seconds() != 8 * 3600:
        out.append(f"{where}: created_at must carry +08:00")
    if not FIRST_DAY <= created.date().isoformat() <= LAST_DAY:
        out.append(f"{where}: created_at outside {FIRST_DAY}..{LAST_DAY}")
    label, category, kind = r["label"], r["category"], r["kind"]
    if label == 1 and (category not in CATEGORIES or kind != "scheme"):
        out.append(f"{where}: label 1 needs a category and kind 'scheme'")
    if label == 0 and (category is not None or kind not in NEGATIVE_KINDS):
        out.append(f"{where}: label 0 needs category null and a negative kind")
    if label not in (0, 1):
        out.append(f"{where}: label must be 0 or 1")
    tags = r.get("obfuscation", [])
    if set(tags) - TAGS:
        out.append(f"{where}: unknown obfuscation tags {sorted(set(tags) - TAGS)}")
    if ("zero_width" in tags) != ("\u200b" in text):
        out.append(f"{where}: zero_width tag and U+200B disagree")
    if "fullwidth" in tags and not re.search("[\uff01-\uff5e]", text):
        out.append(f"{where}: fullwidth tag but no full-width characters")
    if "traditional" in tags and t2s is not None and t2s.convert(text) == text:
        out.append(f"{where}: traditional tag but text is already simplified")
    if "bio_contact" in tags and not contact_tokens(bio) and not re.search(r"\d{9,}", bio):
        out.append(f"{where}: bio_contact tag but the bio holds no contact")
    if "bio_contact" in tags and contact_tokens(text):
        out.append(f"{where}: bio_contact tag but the text holds a contact too")
    return out


def _check_rings(records: list[dict]) -> list[str]:
    out = []
    for r in records:
        whole = r["text"] + "\n" + (r.get("author_bio") or "")
        ring = r.get("ring")
        for name, canonical in RING_CONTACTS.items():
            hit = has_ring_contact(whole, canonical)
            if ring == name and not hit:
                out.append(f"{r['_line']}: ring {name} post without the ring's contact")
            if ring != name and hit:
                out.append(f"{r['_line']}: shares ring {name}'s contact but is not marked")
    # Outside the rings, no two accounts may share a contact.
    owners: dict[str, set[str]] = defaultdict(set)
    for r in records:
        group = r.get("ring") or f"{r['platform']}:{r['author_id']}"
        for token in contact_tokens(r["text"] + "\n" + (r.get("author_bio") or "")):
            owners[token].add(group)
    for token, groups in sorted(owners.items()):
        if len(groups) > 1:
            out.append(f"contact {token!r} shared by {sorted(groups)}")
    return out


def check_file(path: Path, *, holdout: bool) -> tuple[list[dict], list[str]]:
    try:
        import opencc

        t2s = opencc.OpenCC("t2s")
    except ImportError:  # the check still runs, minus the traditional-script test
        t2s = None
    records, problems = load(path)
    seen: set[tuple[str, str]] = set()
    for r in records:
        problems += _check_record(r, t2s)
        key = (r.get("platform"), r.get("id"))
        if key in seen:
            problems.append(f"{r['_line']}: duplicate id {key}")
        seen.add(key)
        if holdout != str(r.get("id", "")).startswith("ho-"):
            problems.append(f"{r['_line']}: holdout ids start with 'ho-', feed ids do not")
    problems += _check_rings(records)
    minimum = 220 if holdout else 330
    if len(records) < minimum:
        problems.append(f"{path.name}: {len(records)} lines, want at least {minimum}")
    labels = Counter(r.get("label") for r in records)
    if holdout and labels[0] < 0.45 * len(records):
        problems.append(f"{path.name}: label 0 is under 45%")
    missing = set(CATEGORIES) - {r.get("category") for r in records}
    if missing:
        problems.append(f"{path.name}: no posts for categories {sorted(missing)}")
    if len({r.get("platform") for r in records}) < 5:
        problems.append(f"{path.name}: fewer than 5 platforms")
    return records, problems


def check_disjoint(feed: list[dict], holdout: list[dict], window: int = 16) -> list[str]:
    """The held-out split must share no account, contact or sentence with the feed."""
    out = []
    for field in ("author_id", "author_name"):
        shared = {r[field] for r in feed} & {r[field] for r in holdout}
        if shared:
            out.append(f"feed and holdout share {field}: {sorted(shared)[:5]}")
    feed_tokens = set().union(
        *(contact_tokens(r["text"] + (r.get("author_bio") or "")) for r in feed)
    )
    for r in holdout:
        shared = contact_tokens(r["text"] + (r.get("author_bio") or "")) & feed_tokens
        if shared:
            out.append(f"{r['_line']}: contact also in feed: {sorted(shared)}")
    grams = set()
    for r in feed:
        text = re.sub(r"\s", "", r["text"])
        grams.update(text[i : i + window] for i in range(len(text) - window + 1))
    for r in holdout:
        text = re.sub(r"\s", "", r["text"])
        for i in range(len(text) - window + 1):
            if text[i : i + window] in grams:
                out.append(f"{r['_line']}: copies feed text {text[i : i + window]!r}")
                break
    return out


def _table(title: str, counts: Counter, total: int) -> list[str]:
    lines = [f"| {title} | posts | share |", "|---|---:|---:|"]
    for key, n in counts.most_common():
        lines.append(f"| {key} | {n} | {n / total:.0%} |")
    return [*lines, ""]


def summary(records: list[dict]) -> list[str]:
    total = len(records)
    positives = [r for r in records if r["label"] == 1]
    tags = Counter(t for r in positives for t in r.get("obfuscation", []))
    obfuscated = sum(1 for r in positives if r.get("obfuscation"))
    in_text = sum(1 for r in positives if set(r.get("obfuscation", [])) - {"bio_contact"})
    rings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    ring_posts: Counter = Counter()
    for r in records:
        if r.get("ring"):
            rings[r["ring"]].add((r["platform"], r["author_name"]))
            ring_posts[r["ring"]] += 1
    accounts = Counter((r["platform"], r["author_id"]) for r in positives)
    lines = [
        f"Total {total} posts: label 1 = {len(positives)} ({len(positives) / total:.0%}), "
        f"label 0 = {total - len(positives)}. Obfuscated positives: {obfuscated} "
        f"({in_text} obfuscated in the text itself, the rest contact only in the bio). "
        f"Black-market accounts: {len(accounts)} "
        f"({sum(1 for n in accounts.values() if n > 1)} post more than once).",
        "",
    ]
    lines += _table("kind", Counter(r["kind"] for r in records), total)
    lines += _table(
        "category (share of label 1)", Counter(r["category"] for r in positives), len(positives)
    )
    lines += _table("platform", Counter(r["platform"] for r in records), total)
    lines += _table("obfuscation tag (share of label 1)", tags, len(positives))
    for name in sorted(rings):
        members = sorted(rings[name])
        platforms = sorted({p for p, _ in members})
        lines.append(
            f"Ring {name}: {len(members)} accounts on {', '.join(platforms)}, "
            f"{ring_posts[name]} posts: " + ", ".join(f"{n} ({p})" for p, n in members)
        )
    return lines


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the count tables")
    args = parser.parse_args(list(argv) if argv is not None else None)
    feed, problems = check_file(FEED, holdout=False)
    held, more = check_file(HOLDOUT, holdout=True)
    problems += more + check_disjoint(feed, held)
    for path, records in ((FEED, feed), (HOLDOUT, held)):
        print(f"## {path.relative_to(ROOT)}\n")
        lines = summary(records)
        print("\n".join(lines if args.markdown else lines[:1]) + "\n")
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
