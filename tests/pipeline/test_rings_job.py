"""The live ring job: real posts through the real detector and fold, stored, then linked.

Accounts reach the job only through the store (``AccountRisk.contacts`` as the folds
wrote them), so these tests prove what the live mode links, not what hand-built contact
sets would.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from collectors.files import FilesSourceSettings
from detectors import Detector
from detectors.accounts import AccountPolicy, fold_post
from detectors.ring_eval import pairwise
from detectors.rings import ring_id
from pipeline.config import load_settings
from pipeline.models import AccountRisk, Post
from pipeline.rings.job import find_live_rings, read_inputs
from pipeline.rings.schedule import JOB_ID, run_scheduled_rings
from pipeline.runner import Runner
from pipeline.stages import fold_accounts, score_posts
from pipeline.store.base import Store

SCAMMER = "专业代理全额退保，不成功不收费，加威信 tuibao_8866 私聊"
SCAMMER_2 = "停息挂账找我们，前期0费用，加V：tuibao-8866"
VICTIM = "这个微信 tuibao_8866 是骗子，说能全额退保收了我三千块就拉黑了，大家别加"
PHONE_DIGITS = "代理退保，全额退回，不成功不收费，电话 138 0013 8000"
PHONE_WORDS = "征信修复 逾期可消除 联系 壹叁捌零零壹叁捌零零零"
PLAIN = "今天去公园散步，天气很好"
# scam1's ad copy with another shop's contact (the template fold drops contacts)
SAME_AD = "专业代理全额退保，不成功不收费，加威信 qiao_bd99 私聊"
# a flagged ad @-mentioning scam1 (post() names every author "name-" + author id)
MENTION_AD = "感谢@name-scam1 推荐，全额退保找我们，不成功不收费，私信我"
# a victim naming two ring members and quoting the ad: two weak links, never flagged
VICTIM_MENTIONS = (
    "@name-scam1 @name-scam2 你们说全额退保不成功不收费，收了我三千块就拉黑了，大家别信"
)
WARNING_QUOTE = (
    "警惕！有人发“专业代理全额退保，不成功不收费，加威信私聊”，这是骗局，请通过官方渠道投诉"
)
SAMPLE_FEED = Path(__file__).resolve().parents[2] / "collectors" / "samples" / "feed.jsonl"


def post(author: str, text: str, *, n: int = 1, bio: str | None = None) -> Post:
    return Post(
        platform="weibo",
        post_id=f"{author}-{n}",
        text=text,
        author_id=author,
        author_name=f"name-{author}",
        author_bio=bio,
    )


async def ingest(store: Store, detector: Detector, posts: list[Post]) -> None:
    """What the embedded runner does with a batch: detect, fold onto the stored risks,
    write."""
    scored = score_posts(detector, posts)
    keys = sorted({p.account_key for p in posts if p.account_key})
    accounts = fold_accounts(scored, await store.get_accounts(keys))
    await store.write_batch(scored, list(accounts.values()))


async def rings_of(store: Store, *keys: str) -> dict[str, str | None]:
    found = await store.get_accounts(list(keys))
    return {key: found[key].ring for key in keys}


async def test_a_victim_naming_the_scammers_wechat_is_not_linked(store, detector) -> None:
    await ingest(
        store,
        detector,
        [post("scam1", SCAMMER), post("scam2", SCAMMER_2), post("victim", VICTIM)],
    )
    victim = await store.get_account("weibo", "victim")
    assert victim is not None and victim.contacts == []  # exposed, never a linking contact

    run = await find_live_rings(store)

    rings = await rings_of(store, "weibo:scam1", "weibo:scam2", "weibo:victim")
    assert rings["weibo:scam1"] == rings["weibo:scam2"] == ring_id("wechat:tuibao8866")
    assert rings["weibo:victim"] is None
    assert [(r.size, r.contacts) for r in run.rings] == [(2, ["wechat:tuibao8866"])]


async def test_a_phone_written_two_ways_makes_one_ring(store, detector) -> None:
    await ingest(store, detector, [post("a", PHONE_DIGITS), post("b", PHONE_WORDS)])
    run = await find_live_rings(store)
    assert run.members(ring_id("phone:13800138000")) == ["weibo:a", "weibo:b"]
    ring = await store.get_ring(ring_id("phone:13800138000"))
    assert ring is not None and (ring.size, ring.contacts) == (2, ["phone:13800138000"])
    members = await store.ring_members(ring.id)
    assert sorted(m.key for m in members) == ["weibo:a", "weibo:b"]


async def test_an_unflagged_pair_sharing_a_contact_is_no_ring(store, detector) -> None:
    # Two ordinary accounts whose bios name the same shop WeChat: linked contacts, no ad.
    await ingest(
        store,
        detector,
        [
            post("b1", PLAIN, bio="小店营业中 微信 shop_2024"),
            post("b2", "周末烤了蛋糕，很成功", bio="合作请加微信 shop-2024"),
        ],
    )
    inputs = await read_inputs(store)
    assert inputs.contacts == {"weibo:b1": {"wechat:shop2024"}, "weibo:b2": {"wechat:shop2024"}}
    assert inputs.flagged == set()

    run = await find_live_rings(store)
    assert run.memberships == {}
    assert await rings_of(store, "weibo:b1", "weibo:b2") == {"weibo:b1": None, "weibo:b2": None}

    # The scan's knob: without ring_requires_flagged the same pair is a ring.
    loose = AccountPolicy(ring_requires_flagged=False)
    assert len((await find_live_rings(store, loose)).rings) == 1


async def test_a_rerun_gives_the_same_ids(store, detector) -> None:
    await ingest(
        store,
        detector,
        [post("a", PHONE_DIGITS), post("b", PHONE_WORDS), post("c", SCAMMER), post("d", SCAMMER_2)],
    )
    first = await find_live_rings(store)
    before = await rings_of(store, "weibo:a", "weibo:b", "weibo:c", "weibo:d")
    second = await find_live_rings(store, page_size=1)  # other pages, same answer
    assert second.memberships == first.memberships
    assert await rings_of(store, *before) == before
    assert len(set(before.values())) == 2


async def test_an_account_whose_contact_changed_leaves_the_ring(store, detector) -> None:
    await ingest(
        store, detector, [post("a", SCAMMER), post("b", SCAMMER_2), post("c", SCAMMER, n=2)]
    )
    await find_live_rings(store)
    assert set((await rings_of(store, "weibo:a", "weibo:b", "weibo:c")).values()) == {
        ring_id("wechat:tuibao8866")
    }
    # c's stored risk is rewritten with another contact (e.g. re-scored history).
    c = await store.get_account("weibo", "c")
    assert c is not None
    await store.write_batch([], [msgspec.structs.replace(c, contacts=["wechat:other_shop"])])

    await find_live_rings(store)
    rings = await rings_of(store, "weibo:a", "weibo:b", "weibo:c")
    assert rings == {
        "weibo:a": ring_id("wechat:tuibao8866"),
        "weibo:b": ring_id("wechat:tuibao8866"),
        "weibo:c": None,
    }
    ring = await store.get_ring(ring_id("wechat:tuibao8866"))
    assert ring is not None and ring.size == 2


async def test_later_folds_keep_the_ring_until_the_next_run(store, detector) -> None:
    await ingest(store, detector, [post("a", SCAMMER), post("b", SCAMMER_2)])
    await find_live_rings(store)
    # More posts by a ring member: the runner folds onto the risk it read (ring and all)
    # or onto a fresh one; either way the stored ring stays.
    await ingest(store, detector, [post("a", PLAIN, n=2), post("b", SCAMMER_2, n=3)])
    a = await store.get_account("weibo", "a")
    assert a is not None and a.total_posts == 2 and a.ring == ring_id("wechat:tuibao8866")


async def test_the_scheduled_job_never_raises(store, caplog) -> None:
    class Broken:
        async def ring_inputs(self, after=None, limit=5_000):
            raise ConnectionError("store down")

    settings = load_settings(environ={})
    with caplog.at_level(logging.ERROR, logger="radar.rings"):
        assert await run_scheduled_rings(Broken(), settings) == 0  # type: ignore[arg-type]
    assert "ring job failed" in caplog.text


# -- weak links (an ad template, @-mentions), as the scan applies them ---------------------


async def test_a_flagged_account_with_a_ring_template_and_a_mention_is_attached(
    store, detector
) -> None:
    await ingest(
        store,
        detector,
        [
            post("scam1", SCAMMER),
            post("scam2", SCAMMER_2),
            post("w", SAME_AD),  # its own contact (qiaobd99) is shared with nobody
            post("w", MENTION_AD, n=2),
        ],
    )
    w = await store.get_account("weibo", "w")
    assert w is not None and w.flagged and w.contacts == ["wechat:qiaobd99"]
    assert len(w.templates) == 2 and w.mentions[0].startswith("name-scam1")

    run = await find_live_rings(store)

    wechat = ring_id("wechat:tuibao8866")
    assert await rings_of(store, "weibo:scam1", "weibo:scam2", "weibo:w") == {
        "weibo:scam1": wechat,
        "weibo:scam2": wechat,
        "weibo:w": wechat,
    }
    assert run.memberships["weibo:w"].weak == ["mention:weibo:scam1", "template:weibo:scam1"]
    assert run.memberships["weibo:w"].contacts == []
    stored = await store.get_account("weibo", "w")
    assert stored is not None
    assert stored.ring_weak == ["mention:weibo:scam1", "template:weibo:scam1"]
    assert stored.template_peers == ["weibo:scam1"]
    scam1 = await store.get_account("weibo", "scam1")
    assert scam1 is not None and (scam1.ring_weak, scam1.template_peers) == ([], ["weibo:w"])
    ring = await store.get_ring(wechat)
    assert ring is not None and ring.size == 3 and ring.contacts == ["wechat:tuibao8866"]
    # without a fact sink the job changes no score (test_template_facts.py: with one)
    assert stored.score == w.score


async def test_one_weak_link_attaches_nobody(store, detector) -> None:
    await ingest(
        store,
        detector,
        [
            post("scam1", SCAMMER),
            post("scam2", SCAMMER_2),
            post("t", SAME_AD),  # the template only
            post("m", MENTION_AD),  # the mention only
        ],
    )
    run = await find_live_rings(store)
    rings = await rings_of(store, "weibo:t", "weibo:m")
    assert rings == {"weibo:t": None, "weibo:m": None}
    assert set(run.memberships) == {"weibo:scam1", "weibo:scam2"}
    # the shared template is still shown to investigators
    t = await store.get_account("weibo", "t")
    assert t is not None and t.template_peers == ["weibo:scam1"]


async def test_an_unflagged_victim_or_warning_is_never_attached(store, detector) -> None:
    await ingest(
        store,
        detector,
        [
            post("scam1", SCAMMER),
            post("scam2", SCAMMER_2),
            post("v", VICTIM_MENTIONS),
            post("v", WARNING_QUOTE, n=2),
            post("r", WARNING_QUOTE),
        ],
    )
    v = await store.get_account("weibo", "v")
    assert v is not None and not v.flagged and v.contacts == []
    assert len(v.mentions) == 2  # two members named: two weak links were there to take
    assert v.templates == {}  # a warning quoting the ad scores too low to keep it

    inputs = await read_inputs(store)
    assert "weibo:v" not in inputs.contacts  # unflagged mentions are not even read
    run = await find_live_rings(store)
    assert set(run.memberships) == {"weibo:scam1", "weibo:scam2"}
    assert run.template_peers == {}
    assert await rings_of(store, "weibo:v", "weibo:r") == {"weibo:v": None, "weibo:r": None}


def _fold(detector: Detector, posts: list[Post], policy: AccountPolicy) -> AccountRisk:
    risk = None
    for p in posts:
        risk = fold_post(risk, p, detector.detect(p.text, p.author_bio), policy)
    assert risk is not None
    return risk


def test_folding_a_post_twice_keeps_the_same_weak_link_inputs(detector) -> None:
    policy = AccountPolicy()
    posts = [post("w", SAME_AD), post("w", MENTION_AD, n=2), post("w", SCAMMER, n=3)]
    once = _fold(detector, posts, policy)
    twice = _fold(detector, [*posts, posts[-1]], policy)
    assert (twice.templates, twice.mentions) == (once.templates, once.mentions)
    # SCAMMER folds like SAME_AD (only the contact differs): kept once, by the first post
    assert list(once.templates) == ["weibo:w-1", "weibo:w-2"]
    copies = _fold(detector, [post("w", SAME_AD, n=n) for n in range(5)], policy)
    assert list(copies.templates) == ["weibo:w-0"]


def test_kept_templates_keep_the_best_ranked_whatever_the_order(detector) -> None:
    policy = AccountPolicy(template_max_kept=2)
    ads = [SCAMMER, PHONE_DIGITS, MENTION_AD, PHONE_WORDS]
    posts = [post("w", text, n=n) for n, text in enumerate(ads)]
    scores = {p.key: fold_post(None, p, detector.detect(p.text), policy).score for p in posts}
    best = sorted(scores, key=lambda k: (-scores[k], k))[:2]
    risk = _fold(detector, posts, policy)
    assert sorted(risk.templates) == sorted(best)
    # a worker replaying posts after a crash folds them in another order: same templates
    replayed = _fold(detector, [*posts[2:], *posts, posts[0]], policy)
    assert replayed.templates == risk.templates
    # a kept post re-delivered, edited into chatter: its template goes
    edited = post("w", PLAIN, n=int(best[0].rsplit("-", 1)[1]))
    risk = fold_post(risk, edited, detector.detect(PLAIN), policy)
    assert list(risk.templates) == [best[1]]
    # a post evicted from post_scores takes its template with it
    tight = AccountPolicy(max_post_scores=1)
    risk = _fold(detector, [post("w", SCAMMER), post("w", PLAIN, n=2)], tight)
    assert risk.templates == {}


def test_mentions_are_capped_sorted_snippets(detector) -> None:
    policy = AccountPolicy(mention_chars=6, max_mentions=2)
    texts = ["@zz_last 你好", "@name-scam1 推荐 @aa 好"]
    risk = _fold(detector, [post("m", t, n=n) for n, t in enumerate(texts)], policy)
    assert risk.mentions == ["aa 好", "name-s"]


# -- the embedded runner -----------------------------------------------------------------


def _settings(tmp_path: Path, **rings: object):
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path / "data")})
    for key, value in rings.items():
        setattr(settings.rings, key, value)
    return settings


def _feed(path: Path) -> None:
    records = [
        {"id": "1", "text": SCAMMER, "author_id": "s1"},
        {"id": "2", "text": SCAMMER_2, "author_id": "s2"},
        {"id": "3", "text": "同款全额退保，加威信 tuibao_8866", "author_id": "s3"},
        {"id": "4", "text": VICTIM, "author_id": "v1"},
        {"id": "5", "text": PHONE_DIGITS, "author_id": "p1"},
        {"id": "6", "text": PHONE_WORDS, "author_id": "p2"},
        {"id": "7", "text": PLAIN, "author_id": "n1"},
    ]
    lines = [json.dumps({**r, "platform": "weibo"}, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def test_an_embedded_run_ends_with_rings_on_the_stored_accounts(tmp_path, store) -> None:
    feed = tmp_path / "feed.jsonl"
    _feed(feed)
    source = FilesSourceSettings(name="feed", path=str(feed))
    runner = Runner(_settings(tmp_path), store, Detector(), [source])
    await runner.start(schedule=False)
    await runner.run_sources_once()

    keys = ["weibo:s1", "weibo:s2", "weibo:s3", "weibo:v1", "weibo:p1", "weibo:p2", "weibo:n1"]
    rings = await rings_of(store, *keys)
    wechat, phone = ring_id("wechat:tuibao8866"), ring_id("phone:13800138000")
    assert rings == {
        "weibo:s1": wechat,
        "weibo:s2": wechat,
        "weibo:s3": wechat,
        "weibo:v1": None,
        "weibo:p1": phone,
        "weibo:p2": phone,
        "weibo:n1": None,
    }
    ring = await store.get_ring(wechat)
    assert ring is not None and ring.size == 3


async def test_the_runner_schedules_the_job_soon_after_start(tmp_path, store) -> None:
    settings = _settings(tmp_path, first_run_seconds=5, every_minutes=2)
    runner = Runner(settings, store, Detector(), [])
    await runner.start()
    try:
        assert runner._scheduler is not None
        job = runner._scheduler.get_job(JOB_ID)
        assert job is not None
        soon = job.next_run_time - datetime.now(UTC)
        assert timedelta(seconds=0) < soon <= timedelta(seconds=5)
        assert job.trigger.interval == timedelta(minutes=2)
    finally:
        await runner.stop()


async def test_the_runner_leaves_the_job_to_the_collector_in_the_scale_out_mode(
    tmp_path, store
) -> None:
    off = _settings(tmp_path, enabled=False)
    kafka = _settings(tmp_path)
    kafka.stream.kind = "kafka"
    for settings in (off, kafka):
        runner = Runner(settings, store, Detector(), [])
        await runner.start()
        try:
            scheduler = runner._scheduler
            assert scheduler is None or scheduler.get_job(JOB_ID) is None
        finally:
            await runner.stop()


async def test_the_job_links_accounts_in_the_elasticsearch_store(osmem_clone, detector) -> None:
    from pipeline.store.elasticsearch import ElasticsearchStore
    from pipeline.store.es_settings import ElasticsearchSettings

    es = ElasticsearchStore(ElasticsearchSettings(hosts=[osmem_clone.url], compat="opensearch"))
    await es.open()
    try:
        await ingest(es, detector, [post("a", SCAMMER), post("b", SCAMMER_2), post("v", VICTIM)])
        await find_live_rings(es, page_size=1)
        rings = await rings_of(es, "weibo:a", "weibo:b", "weibo:v")
        wechat = ring_id("wechat:tuibao8866")
        assert rings == {"weibo:a": wechat, "weibo:b": wechat, "weibo:v": None}
        await ingest(es, detector, [post("a", PLAIN, n=2)])  # a worker's later fold
        assert (await rings_of(es, "weibo:a"))["weibo:a"] == wechat
    finally:
        await es.close()


async def test_the_scale_out_collector_schedules_the_job(tmp_path, store) -> None:
    from pipeline.publisher import Publisher

    class Producer:  # no broker needed: nothing is published without sources
        async def start(self) -> None: ...

        async def stop(self) -> None: ...

    settings = _settings(tmp_path)
    settings.stream.kind = "kafka"
    publisher = Publisher(settings, store, [], producer=Producer())  # type: ignore[arg-type]
    await publisher.start()
    try:
        assert publisher._scheduler is not None
        assert publisher._scheduler.get_job(JOB_ID) is not None
    finally:
        await publisher.stop()


async def test_live_rings_on_the_sample_feed_match_its_ring_labels(tmp_path, store) -> None:
    """The bundled sample feed end to end (files source → detect → fold → store → ring
    job), scored like ``radar eval --rings`` scores the scan: pairwise P/R ≥ 0.95."""
    truth: dict[str, str | None] = {}
    for line in SAMPLE_FEED.read_text("utf-8").splitlines():
        record = json.loads(line)
        if record.get("author_id"):
            key = f"{record['platform']}:{record['author_id']}"
            truth[key] = truth.get(key) or record.get("ring")
    source = FilesSourceSettings(name="sample", path=str(SAMPLE_FEED))
    runner = Runner(_settings(tmp_path), store, Detector(), [source])
    await runner.start(schedule=False)
    await runner.run_sources_once()

    predicted = await rings_of(store, *truth)
    score = pairwise(predicted, truth)
    assert score.true_pairs > 0
    print(f"live rings on the sample feed: {score}")
    assert score.precision >= 0.95 and score.recall >= 0.95, score
