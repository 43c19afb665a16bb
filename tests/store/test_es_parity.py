"""The two stores find the same posts: SQLite (FTS5 over :mod:`pipeline.store.fts` bigrams)
and Elasticsearch (``search_text``, analysed by ``radar_cjk``) answer generated queries over
a generated corpus with the same set of posts.

The corpus is built from a few characters so that terms collide often, and mixes in
what separates tokens differently in the two schemes if they drift apart: full-width
letters and digits, punctuation between CJK runs (``退保，全额`` must not hold
``保全``), a colon between latin words (``vx：tb``), digits inside CJK runs.
"""

from __future__ import annotations

import random

import pytest
from store_factories import es_settings, scored

from pipeline.models import SearchQuery
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

_CJK = "退保全额代理停息挂账口子征信"
_PIECES = [
    "vx",
    "ＶＸ",
    "tb25",
    "ｔｂ２５",
    "q1",
    "，",
    "：",
    "。",
    " ",
    "_",
    "3.5",
    "第10条",
    "！",
]


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 7)):
        if rng.random() < 0.6:
            parts.append("".join(rng.choice(_CJK) for _ in range(rng.randint(1, 5))))
        else:
            parts.append(rng.choice(_PIECES))
    return "".join(parts)


def _query(rng: random.Random, texts: list[str]) -> str:
    roll = rng.random()
    if roll < 0.5:  # a slice of a real text: usually found
        text = rng.choice(texts)
        start = rng.randrange(len(text))
        return text[start : start + rng.randint(1, 5)]
    if roll < 0.8:  # two words
        return f"{rng.choice(_PIECES[:5])} {rng.choice(_CJK)}{rng.choice(_CJK)}"
    return "".join(rng.choice(_CJK) for _ in range(rng.randint(1, 4)))


async def test_both_stores_find_the_same_posts(osmem_clone, tmp_path) -> None:
    rng = random.Random(20251121)
    texts = [_text(rng) for _ in range(60)]
    posts = [scored(f"t{i}", text, score=0.5) for i, text in enumerate(texts)]
    sqlite = SqliteStore(tmp_path / "radar.sqlite3")
    es = ElasticsearchStore(es_settings(osmem_clone.url))
    await sqlite.open()
    await es.open()
    try:
        await sqlite.write_batch(posts)
        await es.write_batch(posts)
        differ = []
        found_some = 0
        for _ in range(150):
            q = _query(rng, texts)
            query = SearchQuery(q=q, flagged_only=False, page_size=100)
            want = {h.post.key for h in (await sqlite.search(query)).results}
            got = {h.post.key for h in (await es.search(query)).results}
            found_some += bool(want)
            if want != got:
                differ.append((q, sorted(want - got), sorted(got - want)))
        assert found_some > 50  # the generator makes queries that find something
        assert differ == [], "\n".join(f"{q!r}: only sqlite {a}, only es {b}" for q, a, b in differ)
    finally:
        await sqlite.close()
        await es.close()
