import json
from pathlib import Path
from zoneinfo import ZoneInfo

from collectors.base import CollectorContext
from collectors.sample import SampleCollector, SampleSourceSettings, bundled_feed_path

CONTEXT = CollectorContext(tz=ZoneInfo("Asia/Shanghai"))


def test_bundled_feed_has_every_kind_of_post():
    records = [json.loads(line) for line in bundled_feed_path().read_text("utf-8").splitlines()]
    assert len(records) >= 300
    assert len({r["platform"] for r in records}) >= 4
    kinds = {r["kind"] for r in records}
    assert {"chatter", "warning", "news", "complaint", "scheme"} <= kinds
    categories = {r["category"] for r in records if r["label"] == 1}
    assert categories == {"surrender", "debt", "credit", "complaint", "other_scheme"}
    ring = [r for r in records if r.get("ring") == "R1"]
    assert len({r["author_id"] for r in ring}) >= 5
    assert len({r["author_name"] for r in ring}) >= 5


async def test_feed_trickles_in_slices_and_resumes_from_its_cursor(tmp_path: Path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "".join(json.dumps({"id": str(i), "text": f"帖子{i}"}) + "\n" for i in range(10))
        + "not json\n",
        encoding="utf-8",
    )
    settings = SampleSourceSettings(path=str(feed), duration_seconds=8, interval_seconds=2)
    collector = SampleCollector(settings, CONTEXT)
    assert collector.per_tick == 3
    seen, rejects, cursor = [], [], None
    for _ in range(6):
        async for page in collector.fetch(cursor):
            seen += [p.post_id for p in page.posts]
            rejects += page.rejects
            cursor = page.cursor
    assert seen == [str(i) for i in range(10)]
    assert [r.location for r in rejects] == ["feed.jsonl:11"]
    assert [page async for page in collector.fetch(cursor)] == []
