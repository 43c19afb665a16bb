"""The 下架清单 pages and downloads, on both stores, in process (as tests/dashboards)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import openpyxl
import pytest
from takedown_seed import NOW, seed_store

from dashboards.app import create_app
from pipeline.config import load_settings
from pipeline.models import TakedownEntry, TakedownEvidence, TakedownList
from pipeline.store.base import Store
from pipeline.takedown.job import produce_takedown_lists


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(store), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as c:
        yield c


@pytest.fixture
async def lists(store: Store) -> list[TakedownList]:
    await seed_store(store)
    return await produce_takedown_lists(store, load_settings(environ={}), NOW)


async def test_empty_page_explains_how_lists_appear(client: httpx.AsyncClient) -> None:
    page = await client.get("/takedowns")
    assert page.status_code == 200
    assert "还没有生成过下架清单" in page.text and "radar takedown" in page.text
    assert '<a href="/takedowns">下架清单</a>' in page.text  # in the nav


async def test_nav_links_the_page_from_search(client: httpx.AsyncClient) -> None:
    assert 'href="/takedowns"' in (await client.get("/")).text


async def test_index_lists_date_platform_count_and_downloads(client, lists) -> None:
    page = await client.get("/takedowns")
    assert page.status_code == 200
    for takedown in lists:
        assert f'href="/takedowns/{takedown.id}.csv"' in page.text
        assert f'href="/takedowns/{takedown.id}.xlsx"' in page.text
    assert "2026-11-23 09:00" in page.text  # created, Asia/Shanghai
    assert "<td>微博</td>" in page.text and "<td>2</td>" in page.text


async def test_detail_page_escapes_hostile_text(client, store, lists) -> None:
    weibo = next(t for t in lists if t.platform == "weibo")
    hostile = TakedownList(
        id="2026-11-23-weibo-0000beef",
        platform="weibo",
        created_at=NOW,
        entries=[
            TakedownEntry(
                key="weibo:x",
                platform="weibo",
                account_id="x",
                nickname="<script>alert(1)</script>",
                profile_url="javascript:alert(2)",
                evidence=[
                    TakedownEvidence(
                        post_key="weibo:p", url="javascript:alert(3)", excerpt="<img src=x>"
                    )
                ],
            )
        ],
    )
    await store.save_takedown_list(hostile)
    page = await client.get(f"/takedowns/{hostile.id}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    assert "<img src=x>" not in page.text
    assert "javascript:" not in page.text
    normal = await client.get(f"/takedowns/{weibo.id}")
    assert "https://weibo.example/c1a" in normal.text and "微信 wxc1" in normal.text


async def test_csv_download(client, lists) -> None:
    weibo = next(t for t in lists if t.platform == "weibo")
    resp = await client.get(f"/takedowns/{weibo.id}.csv")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["content-disposition"] == (
        f'attachment; filename="takedown-{weibo.id}.csv"'
    )
    assert resp.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"), newline="")))
    assert rows[0][0] == "序号"
    assert {r[-1] for r in rows[1:]} == {"weibo:c1", "weibo:c2"}


async def test_xlsx_download(client, lists) -> None:
    douyin = next(t for t in lists if t.platform == "douyin")
    resp = await client.get(f"/takedowns/{douyin.id}.xlsx")
    assert resp.status_code == 200
    assert "spreadsheetml" in resp.headers["content-type"]
    assert resp.headers["content-disposition"].startswith("attachment;")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    assert sheet["A1"].value == "序号" and sheet["N2"].value == "douyin:c3"


@pytest.mark.parametrize(
    "path",
    [
        "/takedowns/2026-11-23-weibo-ffffffff.csv",  # well formed, unknown
        "/takedowns/2026-11-23-weibo-ffffffff",
        "/takedowns/2026-11-23-weibo-ffffffff.pdf",
        "/takedowns/..%2F..%2Fetc%2Fpasswd.csv",
        "/takedowns/%3Cscript%3E.xlsx",
        "/takedowns/x.csv",
    ],
)
async def test_unknown_or_malformed_ids_are_404(client, lists, path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 404
    assert "清单不存在" in resp.text or "页面不存在" in resp.text
    assert "<script>" not in resp.text
