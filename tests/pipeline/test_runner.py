import asyncio
import json
from pathlib import Path

from collectors.files import FilesSourceSettings
from detectors import Detector
from pipeline.config import load_settings
from pipeline.models import SearchQuery
from pipeline.runner import Runner
from pipeline.store.sqlite import SqliteStore

AD = "专业代理全额退保，不成功不收费，加威信 tuibao_8866 私聊"


def write_feed(path: Path, count: int, bad_every: int = 0) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            if bad_every and i % bad_every == 0:
                out.write("{not json\n")
                continue
            text = AD if i % 5 == 0 else f"第{i}条普通帖子，今天吃了火锅"
            record = {"id": str(i), "text": text, "platform": "weibo", "author_id": f"u{i % 7}"}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def make_settings(tmp_path: Path, **stream):
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path / "data")})
    for key, value in stream.items():
        setattr(settings.stream, key, value)
    return settings


async def run_once(settings, store, sources) -> Runner:
    runner = Runner(settings, store, Detector(), sources)
    await runner.start(schedule=False)
    await runner.run_sources_once()
    return runner


async def test_every_post_is_stored_once_and_the_checkpoint_follows(tmp_path, store):
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 300, bad_every=50)
    source = FilesSourceSettings(name="drop", path=str(feed), page_size=40)
    # Tiny queues and batches: back-pressure must slow the source, not drop posts.
    settings = make_settings(tmp_path, queue_size=3, batch_size=7)
    runner = await run_once(settings, store, [source])
    assert runner.counters.written == 294
    assert runner.counters.rejected == 6
    assert await store.count_posts() == 294
    flagged = await store.search(SearchQuery(page_size=100))
    assert flagged.total == 54  # i % 5 == 0 are ads; six of those sixty lines are broken
    assert all(hit.verdict.flagged for hit in flagged.results)
    state = await store.get_checkpoint("drop")
    assert state is not None and state.posts_total == 294 and state.bad_records == 6

    # A second run starts from the checkpoint: nothing new, nothing repeated.
    again = await run_once(settings, store, [source])
    assert again.counters.collected == 0
    assert await store.count_posts() == 294


async def test_accounts_are_aggregated_from_their_posts(tmp_path, store):
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 70)
    await run_once(make_settings(tmp_path), store, [FilesSourceSettings(name="d", path=str(feed))])
    account = await store.get_account("weibo", "u0")
    assert account is not None
    assert account.total_posts == 10
    assert account.flagged_posts == 2  # ids 0 and 35 are ads (i % 5 == 0 and i % 7 == 0)
    assert account.flagged
    assert "wechat:tuibao8866" in account.contacts
    sharing = await store.accounts_sharing_contacts(account.contacts, exclude=account.key)
    assert {a.account_id for a in sharing} == {"u1", "u2", "u3", "u4", "u5", "u6"}


class FlakyStore:
    """Fails the first write, as a locked or full disk would."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.failures = 1

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def write_batch(self, posts, accounts=(), checkpoints=()):
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        await self.inner.write_batch(posts, accounts, checkpoints)


async def test_a_failed_write_is_retried_and_nothing_is_lost(tmp_path, store):
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 20)
    flaky = FlakyStore(store)
    runner = await run_once(
        make_settings(tmp_path), flaky, [FilesSourceSettings(name="d", path=str(feed))]
    )
    assert runner.counters.store_errors == 1
    assert await store.count_posts() == 20


async def test_stop_drains_queued_posts_and_checkpoints_them(tmp_path, store):
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 200)
    source = FilesSourceSettings(name="d", path=str(feed), page_size=10)
    runner = Runner(make_settings(tmp_path, queue_size=5), store, Detector(), [source])
    await runner.start(schedule=False)
    collecting = asyncio.create_task(runner.collect_once("d"))
    while runner.counters.written < 30:
        await asyncio.sleep(0.01)
    await runner.stop()  # cancels the collection mid-file, drains the queues
    assert collecting.cancelled() or collecting.done()
    stored = await store.count_posts()
    state = await store.get_checkpoint("d")
    assert state is not None
    # The checkpoint never runs ahead of what is stored.
    assert state.posts_total <= stored
    # Resuming completes the file with no duplicates.
    await run_once(make_settings(tmp_path), store, [source])
    assert await store.count_posts() == 200
