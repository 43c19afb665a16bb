"""Which Chinese-capable FTS5 index should the SQLite store use? Measure, don't guess.

Builds N synthetic-but-realistic posts (a deterministic mix of black-market pitches,
consumer complaints and everyday chatter, drawn from a vocabulary of Chinese phrases with
latin contact words and full-width variants) and, for each candidate index, measures:

- insert rate (posts table + FTS row in 500-post transactions, tokenisation included),
- index size (FTS5 shadow tables, from ``dbstat``),
- query latency for 2-char (口子, 退保), 4-char (全额退保) and mixed (vx 退保) terms:
  the first 20 matches, the count of all matches (what ``total`` costs) and the best 20
  by bm25 (what a ranked first page costs),
- hits against the ground truth (substring search on width/case-folded text),

and then runs the same posts end to end through ``SqliteStore`` (``write_batch`` rate,
``search()`` with its page, total and facets).

Candidates: FTS5 ``trigram`` (LIKE fallback below 3 characters), jieba pre-segmented
text (``cut_for_search``) and CJK bigram pre-tokenisation (``pipeline.store.fts``, the
store's own code, the scheme of Elasticsearch's ``cjk`` analyzer).

Run: ``python bench/fts.py`` (10k posts, quick) or ``python bench/fts.py --posts 100000``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.models import CATEGORIES, Post, ScoredPost, SearchQuery, Verdict
from pipeline.store import fts as bigram
from pipeline.store.sqlite import SqliteStore

QUERIES = ("口子", "退保", "全额退保", "vx 退保")
BATCH = 500
REPEAT = 15

SCHEME = (
    "全额退保", "代理退保", "无损退保", "退保", "可退本金", "停息挂账", "债务优化", "反催收",
    "征信修复", "逾期", "口子", "下款", "黑户可下", "不成功不收费", "专业团队", "律师团队",
    "私信", "有需要的", "联系我", "威信", "薇信", "秒批", "协商还款", "个性化分期",
)  # fmt: skip
NEUTRAL = (
    "今天", "天气", "不错", "保险公司", "理赔", "客服", "电话", "投诉", "消费者", "银行",
    "信用卡", "还款", "生活", "孩子", "上班", "周末", "朋友", "吃饭", "分享", "大家", "一起",
    "加油", "真的", "觉得", "太难了", "怎么办", "有没有", "知道", "保单", "保费", "退休",
    "医疗", "重疾险", "年金", "分红", "利息", "贷款", "网贷", "平台", "监管", "提醒", "风险",
    "注意", "防范", "诈骗", "新闻", "报道", "记者", "湖北", "宜昌", "王女士", "口罩", "子女",
    "出口", "子公司", "门口", "全额", "退款", "保障", "保护", "权益", "黑产", "警惕",
)  # fmt: skip
LATIN = ("vx", "VX", "ｖｘ", "wx", "qq", "QQ", "ok", "app", "abc123", "Wx88", "１３８")
PUNCT = ("，", "。", "！", "？", " ", "、", "~", "…", "：")


def make_posts(n: int, seed: int = 20250314) -> list[str]:
    """Deterministic posts of ~50-150 characters; about one in five is a pitch, and
    pitches carry more latin contact words (vx, qq, numbers)."""
    rng = random.Random(seed)
    posts = []
    for _ in range(n):
        pitch = rng.random() < 0.2
        parts: list[str] = []
        for _ in range(rng.randint(25, 70)):
            r = rng.random()
            if pitch and r < 0.25:
                parts.append(rng.choice(SCHEME))
            elif r < (0.33 if pitch else 0.03):
                parts.append(rng.choice(LATIN) + (str(rng.randint(100, 99999)) * (r < 0.02)))
            elif r < 0.22:
                parts.append(rng.choice(PUNCT))
            else:
                parts.append(rng.choice(NEUTRAL))
        posts.append("".join(parts))
    return posts


@dataclass
class Candidate:
    name: str
    ddl: str
    index_row: Callable[[str], str] | None  # text -> FTS column value; None = raw text
    # q -> SQL for (first 20 matches, match count, best 20 by rank) and their parameters
    queries: Callable[[str], tuple[str, str, str, list[str]]]


def _fts_queries(expr_for: Callable[[str], str | None]):
    def queries(q: str) -> tuple[str, str, str, list[str]]:
        where = "fts MATCH ?"
        return (
            f"SELECT rowid FROM fts WHERE {where} LIMIT 20",
            f"SELECT count(*) FROM fts WHERE {where}",
            f"SELECT rowid FROM fts WHERE {where} ORDER BY rank LIMIT 20",
            [expr_for(q) or '""'],
        )

    return queries


def _trigram_queries(q: str) -> tuple[str, str, str, list[str]]:
    words = q.split()
    if all(len(w) >= 3 for w in words):
        return _fts_queries(lambda q: " AND ".join(bigram.quote(w) for w in q.split()))(q)
    # Below three characters the trigram index cannot help: LIKE scans every post, and
    # there is no rank to order by (newest first instead).
    where = " AND ".join("text LIKE ?" for _ in words)
    return (
        f"SELECT id FROM posts WHERE {where} LIMIT 20",
        f"SELECT count(*) FROM posts WHERE {where}",
        f"SELECT id FROM posts WHERE {where} ORDER BY id DESC LIMIT 20",
        [f"%{w}%" for w in words],
    )


def _jieba_candidate() -> Candidate:
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()  # dictionary load (~1 s) is start-up, not per-post cost

    def tokens(text: str) -> list[str]:
        return [t for t in jieba.cut_for_search(bigram.fold(text)) if t.strip()]

    def expr(q: str) -> str | None:
        phrases = [
            " + ".join(bigram.quote(t) for t in ts)
            for w in q.split()
            if (ts := [t for t in jieba.lcut(bigram.fold(w)) if t.strip()])
        ]
        return " AND ".join(phrases) or None

    return Candidate(
        "jieba",
        "CREATE VIRTUAL TABLE fts USING fts5(body, content='', tokenize='unicode61')",
        lambda text: " ".join(tokens(text)),
        _fts_queries(expr),
    )


def candidates() -> list[Candidate]:
    return [
        Candidate(
            "trigram",
            "CREATE VIRTUAL TABLE fts USING fts5(text, content='posts', content_rowid='id',"
            " tokenize='trigram')",
            None,
            _trigram_queries,
        ),
        _jieba_candidate(),
        Candidate(
            "bigram",
            "CREATE VIRTUAL TABLE fts USING fts5(body, content='',"
            " tokenize='unicode61 remove_diacritics 0')",
            bigram.index_text,
            _fts_queries(bigram.match_expression),
        ),
    ]


def truth(posts: list[str], q: str) -> int:
    terms = [bigram.fold(w) for w in q.split()]
    return sum(all(t in folded for t in terms) for folded in map(bigram.fold, posts))


def _median_ms(con: sqlite3.Connection, sql: str, args: list[str]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        result = con.execute(sql, args).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


def measure(c: Candidate, posts: list[str], workdir: Path) -> dict[str, object]:
    con = sqlite3.connect(workdir / f"{c.name}.sqlite3", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    con.execute(c.ddl)
    insert_fts = f"INSERT INTO fts (rowid, {_column(c)}) VALUES (?, ?)"
    started = time.perf_counter()
    for lo in range(0, len(posts), BATCH):
        con.execute("BEGIN")
        for i, text in enumerate(posts[lo : lo + BATCH], start=lo + 1):
            con.execute("INSERT INTO posts (id, text) VALUES (?, ?)", (i, text))
            con.execute(insert_fts, (i, text if c.index_row is None else c.index_row(text)))
        con.execute("COMMIT")
    rate = len(posts) / (time.perf_counter() - started)
    size = con.execute(
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'fts%' AND name != 'fts'"
    ).fetchone()[0]
    row: dict[str, object] = {"rate": rate, "mb": size / 1e6}
    for q in QUERIES:
        first, count, ranked, args = c.queries(q)
        first_ms, _ = _median_ms(con, first, args)
        count_ms, found = _median_ms(con, count, args)
        ranked_ms, _ = _median_ms(con, ranked, args)
        row[q] = (found[0][0], first_ms, count_ms, ranked_ms)
    con.close()
    return row


def _column(c: Candidate) -> str:
    return "text" if c.index_row is None else "body"


def _pad(text: str, width: int) -> str:
    """Left-justify counting CJK characters as two columns, so the table lines up."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - shown)


def _scored(texts: list[str]) -> list[ScoredPost]:
    """The synthetic posts as the store receives them: pitches flagged, with a score."""
    rng = random.Random(7)
    out = []
    for i, text in enumerate(texts):
        flagged = any(term in text for term in SCHEME[:12])
        category = rng.choice(CATEGORIES) if flagged else None
        post = Post(
            platform=rng.choice(("weibo", "douyin", "xiaohongshu")),
            post_id=str(i),
            text=text,
            author_id=f"u{rng.randrange(len(texts) // 5 + 1)}",
            created_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
        )
        verdict = Verdict(
            flagged=flagged,
            score=round(rng.uniform(0.5, 1.0) if flagged else rng.uniform(0, 0.4), 3),
            categories=[category] if category else [],
        )
        out.append(ScoredPost(post=post, verdict=verdict))
    return out


async def _store_figures(texts: list[str], workdir: Path) -> None:
    """End to end through SqliteStore: write_batch rate, and search() with its total and
    facets, flagged posts only (the dashboard's default)."""
    store = SqliteStore(workdir / "store.sqlite3")
    await store.open()
    posts = _scored(texts)
    started = time.perf_counter()
    for lo in range(0, len(posts), BATCH):
        await store.write_batch(posts[lo : lo + BATCH])
    rate = len(posts) / (time.perf_counter() - started)
    print(f"\nSqliteStore: write_batch {rate:,.0f} posts/s; search() median ms (total):")
    for q in ("", *QUERIES):
        times, total = [], 0
        for _ in range(5):
            t0 = time.perf_counter()
            total = (await store.search(SearchQuery(q=q))).total
            times.append(time.perf_counter() - t0)
        label = repr(q) if q else "(no query)"
        print(f"  {_pad(label, 12)}{statistics.median(times) * 1000:>8.1f} ms ({total})")
    await store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="posts to index")
    args = parser.parse_args(argv)
    posts = make_posts(args.posts)
    chars = sum(map(len, posts)) / len(posts)
    print(f"{len(posts):,} posts, {chars:.0f} chars on average, sqlite {sqlite3.sqlite_version}")
    expected = {q: truth(posts, q) for q in QUERIES}
    with tempfile.TemporaryDirectory() as tmp:
        results = {c.name: measure(c, posts, Path(tmp)) for c in candidates()}
    print(f"\n{'candidate':<10}{'insert posts/s':>16}{'index MB':>10}")
    for name, row in results.items():
        print(f"{name:<10}{row['rate']:>16,.0f}{row['mb']:>10.1f}")
    print(
        f"\n{'query':<10}{'candidate':<10}{'hits':>14}"
        f"{'first 20 ms':>13}{'count ms':>10}{'ranked 20 ms':>14}"
    )
    for q in QUERIES:
        for name, row in results.items():
            hits, first_ms, count_ms, ranked_ms = row[q]
            print(
                f"{_pad(q, 10)}{name:<10}{f'{hits}/{expected[q]}':>14}"
                f"{first_ms:>13.2f}{count_ms:>10.2f}{ranked_ms:>14.2f}"
            )
    print(
        "\nhits: found / ground truth (substring of the width- and case-folded text);"
        " ranked: bm25 top 20 (trigram below 3 chars: LIKE, newest first)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_store_figures(posts, Path(tmp)))


if __name__ == "__main__":
    main()
