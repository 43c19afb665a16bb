"""The live ring job on N stored accounts: seconds to read, link and save.

    .venv/bin/python bench/rings.py [--accounts 100000] [--store sqlite|elasticsearch]

Accounts as the folds store them: one in ten belongs to a ring of five sharing a WeChat
id (a member sometimes also shares a phone with the next ring, chaining two rings into
one), about a third are flagged. About one in ten also keeps weak-link inputs (a kept ad
template, an @-mention of a ring member's nickname): of those, a third hold no contact
(read for their weak links alone), and the templates come from 500 ad copies varied per
account, so most are shared (template links, peers) and some attach to a ring. Every
other account holds one or two linking contacts.
``elasticsearch`` runs on osmem-server (in memory; a test server, so its figures say
little about a real cluster). The baseline in the same run is ``find_rings`` alone on
the same contacts, in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from pathlib import Path

from detectors.accounts import default_policy
from detectors.rings import find_rings
from pipeline.models import AccountRisk
from pipeline.rings.job import assign, read_inputs
from pipeline.store.base import Store

RING_SIZE = 5
WRITE_BATCH = 5_000
WEAK_SHARE = 10  # one account in WEAK_SHARE keeps weak-link inputs
COPIES = 500
# ad copy is drawn from these characters: copies of one ad share most of their
# 3-grams, copies of two different ads almost none
WORDS = (
    "专业团队代理全额退保不成功不收费前期零费用帮助客户挽回损失名额有限先到先得律师法务内部渠道政策"
)


def _template(rng: random.Random, n: int) -> str:
    """A template fold (as the fold keeps it) of ad copy ``n``, varied a little."""
    copy = random.Random(n)
    text = "".join(copy.choice(WORDS) for _ in range(60))
    cut = rng.randrange(len(text) - 5)
    return text[:cut] + text[cut + rng.randrange(3) :]


def accounts(n: int, seed: int = 7) -> list[AccountRisk]:
    rng = random.Random(seed)
    out = []
    ringed = n // 10
    nicknames = [f"退保顾问{i:07d}" for i in range(n)]
    for i in range(n):
        if i < ringed:
            ring = i // RING_SIZE
            contacts = [f"wechat:shop{ring:06d}"]
            if i % RING_SIZE == 0 and rng.random() < 0.1:
                contacts.append(f"phone:139{ring + 1:08d}")
            if i % RING_SIZE == 1:
                contacts.append(f"phone:139{ring:08d}")
        else:
            contacts = [f"wechat:solo{i:07d}"]
            if rng.random() < 0.3:
                contacts.append(f"phone:138{i:08d}")
        flagged = rng.random() < 0.33
        post_scores = {f"weibo:p{i}": 0.9 if flagged else 0.3}
        templates: dict[str, str] = {}
        mentions: list[str] = []
        if i % WEAK_SHARE == 3:
            if i >= ringed and i % 3 == 0:
                contacts = []
            post_scores[f"weibo:t{i}"] = 0.9 if flagged else 0.45
            templates[f"weibo:t{i}"] = _template(rng, (i // WEAK_SHARE) % COPIES)
            target = rng.randrange(ringed)
            mentions = [(nicknames[target] + " 推荐的，靠谱")[:24]]
        out.append(
            AccountRisk(
                platform="weibo",
                account_id=f"u{i:07d}",
                nickname=nicknames[i],
                score=0.9 if flagged else 0.3,
                flagged=flagged,
                contacts=contacts,
                post_scores=post_scores,
                flagged_posts=int(flagged),
                total_posts=len(post_scores),
                templates=templates,
                mentions=mentions,
            )
        )
    return out


async def _fill(store: Store, rows: list[AccountRisk]) -> None:
    for i in range(0, len(rows), WRITE_BATCH):
        await store.write_batch([], rows[i : i + WRITE_BATCH])


async def measure(store: Store, rows: list[AccountRisk]) -> None:
    await store.open()
    try:
        started = time.perf_counter()
        await _fill(store, rows)
        print(f"stored {len(rows):,} accounts in {time.perf_counter() - started:.1f}s")
        policy = default_policy()
        for attempt in (1, 2):
            t0 = time.perf_counter()
            inputs = await read_inputs(store)
            t1 = time.perf_counter()
            memberships, peers = await asyncio.to_thread(assign, inputs, policy)
            t2 = time.perf_counter()
            await store.save_rings(memberships, template_peers=peers)
            t3 = time.perf_counter()
            rings = len({m.ring for m in memberships.values()})
            weak = sum(1 for m in memberships.values() if m.weak)
            print(
                f"run {attempt}: read {len(inputs.contacts):,} accounts {t1 - t0:.2f}s, "
                f"link {t2 - t1:.2f}s, save {len(memberships):,} members ({weak:,} by weak "
                f"links) / {rings:,} rings, {len(peers):,} template peer lists "
                f"{t3 - t2:.2f}s; total {t3 - t0:.2f}s"
            )
        contacts = {a.key: set(a.contacts) for a in rows}
        flagged = {a.key for a in rows if a.flagged}
        t0 = time.perf_counter()
        find_rings(contacts, (), flagged)
        print(
            f"baseline: find_rings alone (strong links), in memory: {time.perf_counter() - t0:.2f}s"
        )
        t0 = time.perf_counter()
        sample = [a.key for a in rows[:: max(1, len(rows) // 500)]]
        await store.get_accounts(sample)
        print(
            f"get_accounts of {len(sample)} keys with the ring join: "
            f"{(time.perf_counter() - t0) * 1000:.1f} ms"
        )
    finally:
        await store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "elasticsearch"], default="sqlite")
    args = parser.parse_args()
    rows = accounts(args.accounts)
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "sqlite":
            from pipeline.store.sqlite import SqliteStore

            asyncio.run(measure(SqliteStore(Path(tmp) / "rings.sqlite3"), rows))
            return
        from osmem_server import OsmemServer

        from pipeline.store.elasticsearch import ElasticsearchStore
        from pipeline.store.es_settings import ElasticsearchSettings

        with OsmemServer.start() as server, server.clone() as clone:
            settings = ElasticsearchSettings(hosts=[clone.url], compat="opensearch")
            asyncio.run(measure(ElasticsearchStore(settings), rows))


if __name__ == "__main__":
    main()
