import json
from pathlib import Path
from zoneinfo import ZoneInfo

from collectors.base import CollectorContext
from collectors.files import FilesCollector, FilesSourceSettings
from collectors.records import MAX_LINE_BYTES

CONTEXT = CollectorContext(tz=ZoneInfo("Asia/Shanghai"), max_text_chars=1000)


async def collect(settings, cursor=None):
    collector = FilesCollector(settings, CONTEXT)
    posts, rejects = [], []
    async for page in collector.fetch(cursor):
        posts += page.posts
        rejects += page.rejects
        cursor = page.cursor
    return posts, rejects, cursor


def line(**record) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


async def test_bad_lines_are_reported_with_file_and_line_and_the_rest_go_on(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    with path.open("wb") as handle:
        handle.write(line(id="1", text="第一条").encode())
        handle.write(b"{broken json\n")
        handle.write("退保".encode("gbk") + b"\n")
        handle.write(b"\n")
        handle.write(line(id="2").encode())
        handle.write(line(id="3", text="第三条").encode())
    posts, rejects, _ = await collect(FilesSourceSettings(name="f", path=str(path)))
    assert [p.post_id for p in posts] == ["1", "3"]
    assert [(r.location, r.reason.split(":")[0]) for r in rejects] == [
        (f"{path}:2", "broken JSON"),
        (f"{path}:3", "invalid utf-8 at byte 0 (wrong encoding? set the source's `encoding`)"),
        (f"{path}:5", "missing `text`"),
    ]


async def test_cursor_resumes_and_tails_appended_lines(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    path.write_text(line(id="1", text="a") + line(id="2", text="b"), encoding="utf-8")
    settings = FilesSourceSettings(name="f", path=str(path), page_size=1)
    posts, _, cursor = await collect(settings)
    assert [p.post_id for p in posts] == ["1", "2"]
    again, _, cursor = await collect(settings, cursor)
    assert again == []
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line(id="3", text="c"))
        handle.write('{"id": "4", "te')  # a writer mid-line
    posts, _, cursor = await collect(settings, cursor)
    assert [p.post_id for p in posts] == ["3"]
    with path.open("a", encoding="utf-8") as handle:
        handle.write('xt": "d"}\n')
    posts, rejects, _ = await collect(settings, cursor)
    assert [p.post_id for p in posts] == ["4"]
    assert rejects == []


async def test_pages_carry_the_cursor_after_their_own_lines(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    path.write_text("".join(line(id=str(i), text="t") for i in range(5)), encoding="utf-8")
    collector = FilesCollector(FilesSourceSettings(name="f", path=str(path), page_size=2), CONTEXT)
    pages = [page async for page in collector.fetch(None)]
    assert [len(page.posts) for page in pages] == [2, 2, 1]
    # Resuming from the first page's cursor yields exactly the rest.
    posts, _, _ = await collect(FilesSourceSettings(name="f", path=str(path)), pages[0].cursor)
    assert [p.post_id for p in posts] == ["2", "3", "4"]


async def test_overlong_line_is_skipped_not_loaded(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"id": "big", "text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n')
        handle.write(line(id="ok", text="fine").encode())
    posts, rejects, _ = await collect(FilesSourceSettings(name="f", path=str(path)))
    assert [p.post_id for p in posts] == ["ok"]
    assert rejects[0].location == f"{path}:1"
    assert "longer than" in rejects[0].reason


async def test_csv_with_glob_and_gbk(tmp_path: Path):
    (tmp_path / "a.csv").write_bytes("id,text,platform\n1,全额退保,weibo\n2,,weibo\n".encode("gbk"))
    (tmp_path / "b.csv").write_bytes('id,text\n9,"多行\n文本"\n'.encode("gbk"))
    settings = FilesSourceSettings(name="f", path=str(tmp_path / "*.csv"), encoding="gbk")
    posts, rejects, cursor = await collect(settings)
    assert [(p.platform, p.post_id, p.text) for p in posts] == [
        ("weibo", "1", "全额退保"),
        ("files", "9", "多行\n文本"),
    ]
    assert [r.location for r in rejects] == [f"{tmp_path / 'a.csv'}:3"]
    assert (await collect(settings, cursor))[0] == []


async def test_missing_file_is_a_reject_not_a_crash(tmp_path: Path):
    posts, rejects, _ = await collect(FilesSourceSettings(name="f", path=str(tmp_path / "no")))
    assert posts == []
    assert rejects[0].reason == "no such file"
