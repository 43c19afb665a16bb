"""A loopback HTTP server that replays platform answers, for the platform adapters' tests.

Each test gives a ``route(method, path, params, headers) -> Answer`` function; the server
(``http.server`` in a thread, 127.0.0.1, a free port) records every request so tests can
assert what was fetched, how often, and with which cookies and signatures.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from collectors.base import Collector, CollectorContext, Page
from collectors.http import build_client
from pipeline.models import Post, Reject

FIXTURES = Path(__file__).parent.parent / "collectors" / "fixtures"
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def fixture(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    raw_query: str


Route = Callable[[Request], Answer]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(
            "GET", parts.path, params, {k.lower(): v for k, v in self.headers.items()}, parts.query
        )
        server: ReplayServer = self.server.replay  # type: ignore[attr-defined]
        server.requests.append(request)
        answer = server.route(request)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        return None


class ReplayServer:
    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.replay = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hits(self, path: str, **params: str) -> int:
        return sum(
            r.path == path and all(r.params.get(k, "") == v for k, v in params.items())
            for r in self.requests
        )


@contextmanager
def replay(route: Route) -> Iterator[ReplayServer]:
    server = ReplayServer(route)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def context() -> CollectorContext:
    """A context whose clients use the real network transport (to loopback), no pacing."""
    return CollectorContext(
        tz=TZ, client_for=lambda settings, base: build_client(settings, default_base_url=base)
    )


FAST = {"rate_per_second": 0, "retries": 1, "backoff_seconds": 0.01, "timeout_seconds": 5}


@dataclass
class Run:
    """What one collection run handed on: posts, rejects, the last cursor, the error."""

    posts: list[Post] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    cursor: str | None = None
    pages: int = 0
    error: Exception | None = None


async def run(
    collector: Collector, cursor: str | None, *, max_pages: int | None = None, close: bool = True
) -> Run:
    """Drive ``fetch`` as the runner does: a page's posts, then its cursor; stop (a
    "crash") after ``max_pages`` pages or at the first error."""
    result = Run(cursor=cursor)
    pages: AsyncIterator[Page] = collector.fetch(cursor)
    try:
        async for page in pages:
            result.posts.extend(page.posts)
            result.rejects.extend(page.rejects)
            result.cursor = page.cursor
            result.pages += 1
            if max_pages is not None and result.pages >= max_pages:
                break
    except Exception as exc:  # the runner's catch-all, kept for assertions
        result.error = exc
    finally:
        await pages.aclose()  # type: ignore[attr-defined]
        if close:
            await collector.aclose()
    return result
