"""Collection throughput: how fast one process turns HTTP pages into posts on the stream.

A loopback server (``http.server`` in its own process, pre-encoded bodies, no pacing)
serves the same pages to these readers, one after the other, in one run:

  1. raw:     ``httpx.AsyncClient.get`` of every page, body read, nothing parsed — the
              ceiling set by the server, the loopback and httpx;
  2. client:  the same through :func:`collectors.http.build_client` (pacing off, retries
              on) — the cost of the policy transport;
  3. jsonapi: the ``jsonapi`` collector (client + JMESPath mapping + incremental crawl
              state), every post put on a bounded ``asyncio.Queue`` drained by a consumer
              (the runner's hand-off);
  4. rsshub:  the ``rsshub`` collector over RSS 2.0 pages of the same posts (defusedxml
              + HTML stripping), same hand-off.

Prints pages/s and posts/s for each and the ratio to raw. Detection and storage are not
included: ``bench/ingest.py`` measures those.

Measured on this machine (2 cores, load average ~6 from other jobs, so ±30%), 200 pages
of 50 Weibo-like posts with HTML text, 18 KiB per JSON page::

    raw       241 pages/s  12,066 posts/s
    client    225 pages/s  11,250 posts/s   (policy transport: ~7% on loopback)
    jsonapi    59 pages/s   2,971 posts/s   (25% of raw)
    raw rss   224 pages/s  11,216 posts/s
    rsshub     41 pages/s   2,059 posts/s   (18% of raw)

Parsing, not fetching, bounds one process: HTML-to-text is about half of it, the XML
parse most of the rest for RSS. Against real platforms the pacing (0.5 request/s per
source by default, i.e. ~25 posts/s) is the limit, two orders of magnitude below this.

Run: ``python bench/collect.py [--pages 200 --per-page 50]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.base import CollectorContext, Page
from collectors.http import HttpSourceSettings, build_client
from collectors.jsonapi import JsonApiCollector, JsonApiSourceSettings
from collectors.rsshub import RsshubCollector, RsshubSourceSettings

TEXT = (
    "专业代理全额退保，不成功不收费！<br>买了保险后悔的、被误导销售的都可以退，"
    "加<a href='https://m.weibo.cn/search?q=退保'>#退保#</a> 威信 tb_{n} 详聊 [doge]"
)


def json_pages(pages: int, per_page: int) -> dict[str, bytes]:
    out = {}
    n = pages * per_page
    for page in range(pages):
        items = []
        for _ in range(per_page):
            items.append(
                {
                    "mid": n,
                    "text": TEXT.format(n=n),
                    "user": {"id": f"u{n % 997}", "screen_name": f"退保顾问{n % 997}"},
                    "created_at": 1_763_700_000 + n,
                    "reposts_count": n % 50,
                    "url": f"https://weibo.com/u{n % 997}/{n}",
                }
            )
            n -= 1
        more = page + 1 < pages
        body = {"ok": 1, "data": {"list": items, "next": str(page + 1) if more else None}}
        out[str(page)] = json.dumps(body, ensure_ascii=False).encode()
    return out


def rss_pages(pages: int, per_page: int) -> dict[str, bytes]:
    out = {}
    n = pages * per_page
    for page in range(pages):
        items = []
        for _ in range(per_page):
            items.append(
                f"<item><title>{escape(TEXT.format(n=n)[:20])}</title>"
                f"<description><![CDATA[{TEXT.format(n=n)}]]></description>"
                f"<pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate>"
                f"<link>https://weibo.com/{1000 + n % 997}/B{n}</link>"
                f"<guid>https://weibo.com/{1000 + n % 997}/B{n}</guid>"
                f"<author>退保顾问</author></item>"
            )
            n -= 1
        out[f"/r/{page}"] = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>退保关键词</title><link>https://s.weibo.com/weibo?q=退保</link>"
            + "".join(items)
            + "</channel></rss>"
        ).encode()
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each keep-alive answer waits ~40 ms

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        bodies: dict[str, bytes] = self.server.bodies  # type: ignore[attr-defined]
        if parts.path == "/feed":
            key = parse_qs(parts.query).get("page", ["0"])[0]
            kind = "application/json"
        else:
            key, kind = parts.path, "application/rss+xml"
        body = bodies.get(key, b"")
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def _serve_forever(bodies: dict[str, bytes], ports: multiprocessing.Queue) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.bodies = bodies  # type: ignore[attr-defined]
    ports.put(server.server_address[1])
    server.serve_forever()


def serve(bodies: dict[str, bytes]) -> tuple[multiprocessing.Process, str]:
    """The server in its own process, so it does not share the GIL with the reader."""
    ports: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve_forever, args=(bodies, ports), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=30)}"


async def raw_fetch(url: str, paths: list[str]) -> int:
    async with httpx.AsyncClient(base_url=url) as client:
        total = 0
        for path in paths:
            total += len((await client.get(path)).content)
        return total


async def client_fetch(url: str, paths: list[str]) -> int:
    settings = HttpSourceSettings(name="bench", base_url=url, rate_per_second=0)
    async with build_client(settings, default_base_url=url) as client:
        total = 0
        for path in paths:
            total += len((await client.get(path)).content)
        return total


async def hand_off(pages: AsyncIterator[Page]) -> int:
    """Every post onto a bounded queue drained by a consumer, like the runner's."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=2000)
    done = object()
    received = 0

    async def consume() -> None:
        nonlocal received
        while await queue.get() is not done:
            received += 1

    consumer = asyncio.create_task(consume())
    async for page in pages:
        for post in page.posts:
            await queue.put(post)
    await queue.put(done)
    await consumer
    return received


def context() -> CollectorContext:
    return CollectorContext(tz=ZoneInfo("Asia/Shanghai"))


async def jsonapi_collect(url: str, pages: int) -> int:
    settings = msgspec.convert(
        {
            "kind": "jsonapi",
            "name": "bench",
            "base_url": url,
            "url": "/feed",
            "params": {"page": "{page}"},
            "paging": "page",
            "start_page": 0,
            "items": "data.list",
            "has_more": "data.next",
            "fields": {
                "id": "mid",
                "text": "text",
                "author_id": "user.id",
                "author_name": "user.screen_name",
                "created_at": "created_at",
                "url": "url",
            },
            "html": True,
            "rate_per_second": 0,
            "max_pages": pages + 1,
        },
        JsonApiSourceSettings,
    )
    collector = JsonApiCollector(settings, context())
    try:
        return await hand_off(collector.fetch(None))
    finally:
        await collector.aclose()


async def rsshub_collect(url: str, pages: int) -> int:
    routes = [f"/r/{page}" for page in range(pages)]
    settings = RsshubSourceSettings(name="bench", base_url=url, routes=routes, rate_per_second=0)
    collector = RsshubCollector(settings, context())
    try:
        return await hand_off(collector.fetch(None))
    finally:
        await collector.aclose()


async def timed(label: str, run: Callable[[], object], pages: int, posts: int) -> float:
    started = time.perf_counter()
    result = await run()  # type: ignore[misc]
    elapsed = time.perf_counter() - started
    if label in ("jsonapi", "rsshub") and result != posts:
        raise SystemExit(f"{label}: expected {posts} posts, got {result}")
    print(
        f"  {label:<8} {pages / elapsed:8,.0f} pages/s  {posts / elapsed:9,.0f} posts/s"
        f"  ({elapsed:.2f}s)"
    )
    return posts / elapsed


async def main_async(pages: int, per_page: int) -> None:
    bodies = {**json_pages(pages, per_page), **rss_pages(pages, per_page)}
    server, url = serve(bodies)
    posts = pages * per_page
    json_paths = [f"/feed?page={page}" for page in range(pages)]
    rss_paths = [f"/r/{page}" for page in range(pages)]
    size = sum(len(bodies[str(p)]) for p in range(pages)) / pages
    print(f"{pages} pages x {per_page} posts, JSON page {size / 1024:.0f} KiB, loopback, no pacing")
    try:
        await raw_fetch(url, json_paths[:5])  # warm up
        raw = await timed("raw", lambda: raw_fetch(url, json_paths), pages, posts)
        await timed("client", lambda: client_fetch(url, json_paths), pages, posts)
        collected = await timed("jsonapi", lambda: jsonapi_collect(url, pages), pages, posts)
        raw_rss = await timed("raw rss", lambda: raw_fetch(url, rss_paths), pages, posts)
        rss = await timed("rsshub", lambda: rsshub_collect(url, pages), pages, posts)
        print(
            f"jsonapi at {collected / raw:.0%} of the raw fetch rate, "
            f"rsshub at {rss / raw_rss:.0%} of its raw fetch rate"
        )
    finally:
        server.terminate()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main_async(args.pages, args.per_page))


if __name__ == "__main__":
    main()
