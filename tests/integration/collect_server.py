"""A loopback vendor API for the collection tests: ``http.server`` in a thread.

Each test installs ``route(path, params, headers) -> Reply``; a reply may ``delay`` before
answering (timeouts mid-crawl) and the server records every request, so tests can count
retries and see which headers were sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


Route = Callable[[Seen], Reply]


def json_reply(value: object, status: int = 200, **headers: str) -> Reply:
    return Reply(
        status=status, body=json.dumps(value, ensure_ascii=False).encode(), headers=headers
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each keep-alive answer waits ~40 ms

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        seen = Seen(parts.path, params, {k.lower(): v for k, v in self.headers.items()})
        server: VendorServer = self.server.vendor  # type: ignore[attr-defined]
        with server.lock:
            server.requests.append(seen)
        reply = server.route(seen)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def log_message(self, format: str, *args: object) -> None:
        return None


class VendorServer:
    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.vendor = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serving(route: Route) -> Iterator[VendorServer]:
    server = VendorServer(route)
    server.start()
    try:
        yield server
    finally:
        server.stop()
