"""The one HTTP client every platform source uses (Scrapy's downloader middlewares, once).

Platform adapters only build requests and parse bodies; pacing, retries, proxies, cookies
and the User-Agent live here, in a transport wrapper (:class:`PoliteTransport`) around
httpx's own transport. The transport is the seam: tests pass ``transport=`` (an
``httpx.MockTransport`` or a real one pointed at a loopback server) and keep the policy.

Policy, and why:

* per-host pacing (``rate_per_second``) and concurrency, shared by all sources that hit
  the same host: platforms answer fast crawling with risk control, so being slow is
  cheaper than being blocked;
* retries with exponential backoff and full jitter on timeouts, connection errors, 429 and
  5xx, honouring ``Retry-After``: those are transient by definition;
* a ``Retry-After`` longer than :data:`MAX_RETRY_AFTER_SECONDS` is not slept through
  inside a scheduled job: it raises :class:`RateLimitedError`, a risk-control answer, and
  the source cools down instead;
* other 4xx (Weibo 432, Bilibili 412, Xiaohongshu 461, …) are never retried: the adapter
  turns them into :class:`RiskControlError` and the runner cools the source down;
* bodies are read inside the transport, so a timeout mid-body is retried like any other
  timeout, and a body larger than :data:`MAX_BODY_BYTES` is refused;
* cookies and tokens come from environment variables named in the settings; their values
  are registered with :func:`register_secret` and :func:`scrub` removes them from every
  message the runner logs, stores or shows.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from collectors.base import SourceSettings

if TYPE_CHECKING:
    from collectors.base import CollectorContext

log = logging.getLogger("radar.http")

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 120.0
MAX_BACKOFF_SECONDS = 30.0
MAX_BODY_BYTES = 16 * 1024 * 1024
SAMPLE_CHARS = 200


# Words in an error body that mean "risk control", whatever the status: such an answer is
# never retried, even as a 5xx (RSSHub relays upstream blocks as 503).
RISK_MARKERS: tuple[str, ...] = (
    "verify_check",
    "captcha",
    "验证码",
    "访问频繁",
    "请求过于频繁",
    "风控",
    "status code 461",
    "status code 432",
    "status code 412",
)


def risk_marker(body: bytes) -> str | None:
    """The first risk-control marker in (the start of) an error body, if any."""
    head = body[:20_000].decode("utf-8", "replace").lower()
    return next((marker for marker in RISK_MARKERS if marker.lower() in head), None)


class HttpSourceSettings(SourceSettings, kw_only=True):
    """Options every HTTP source adds. Secrets are never values here, only env var names."""

    base_url: str | None = None
    rate_per_second: float = 0.5
    concurrency: int = 2
    timeout_seconds: float = 20.0
    retries: int = 3
    backoff_seconds: float = 1.0
    proxy: str | None = None
    cookie_env: str | None = None
    token_env: str | None = None
    user_agent: str | None = None
    http2: bool = False
    cooldown_seconds: float = 600.0

    def __post_init__(self) -> None:
        checks = (
            ("rate_per_second", self.rate_per_second >= 0, "must be >= 0 (0 = no pacing)"),
            ("concurrency", self.concurrency >= 1, "must be at least 1"),
            ("retries", self.retries >= 0, "must be >= 0"),
            ("timeout_seconds", self.timeout_seconds > 0, "must be > 0"),
            ("cooldown_seconds", self.cooldown_seconds >= 0, "must be >= 0"),
        )
        for key, ok, problem in checks:
            if not ok:
                raise ValueError(f"{key}: {problem}")


class RiskControlError(Exception):
    """A platform's risk-control answer (captcha page, 432/412/461, ``ok != 1``, ...).

    Never retried: the runner puts the source into a cool-down that grows with repeats.
    ``retry_after`` is the platform's own hint in seconds, when it gave one.
    """

    def __init__(
        self, reason: str, status: int | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class RateLimitedError(RiskControlError):
    """429/503 with a ``Retry-After`` too long to wait inside one run."""


class ShapeError(Exception):
    """A body that is not what the parser expected (HTML for JSON, truncated, missing keys).

    ``sample`` is the start of the offending body, for the one log line per source."""

    def __init__(self, message: str, sample: str | bytes = "") -> None:
        super().__init__(message)
        if isinstance(sample, bytes):
            sample = sample[: SAMPLE_CHARS * 4].decode("utf-8", "replace")
        self.sample = sample[:SAMPLE_CHARS]


# -- secrets ---------------------------------------------------------------------------

_SECRETS: set[str] = set()
_MIN_SECRET_CHARS = 6
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:access_token|token|api_key|apikey|key|sign|signature|w_rid|sessdata)=)[^&#\s'\"]+"
)


def register_secret(value: str | None) -> None:
    """Remember a secret (and each ``name=value`` part of a cookie) so :func:`scrub`
    removes it from messages."""
    if not value:
        return
    value = value.strip()
    if len(value) >= _MIN_SECRET_CHARS:
        _SECRETS.add(value)
    for part in value.split(";"):
        _, _, cookie_value = part.partition("=")
        cookie_value = cookie_value.strip()
        if len(cookie_value) >= _MIN_SECRET_CHARS:
            _SECRETS.add(cookie_value)
    if value.lower().startswith("bearer "):
        register_secret(value[7:])


def scrub(text: str) -> str:
    """``text`` with every registered secret and secret-looking query value masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return _QUERY_SECRET.sub(r"\1***", text)


class ScrubFilter(logging.Filter):
    """Masks secrets in records of loggers we do not write ourselves (httpx logs every
    request URL at INFO, query string and all)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(ScrubFilter())


def env_secret(name: str | None) -> str | None:
    """The value of the environment variable ``name`` (registered as a secret)."""
    if not name:
        return None
    value = os.environ.get(name)
    register_secret(value)
    return value or None


def safe_url(url: httpx.URL | str) -> str:
    """A URL fit for logs: scheme, host and path, never the query (signatures, tokens)."""
    url = httpx.URL(str(url))
    return f"{url.scheme}://{url.host}{':' + str(url.port) if url.port else ''}{url.path}"


# -- pacing ----------------------------------------------------------------------------


class _HostGate:
    """Per-host pacing (one request start per ``1/rate`` seconds) and concurrency."""

    def __init__(self, rate_per_second: float, concurrency: int) -> None:
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self.semaphore = asyncio.Semaphore(max(1, concurrency))
        self._lock = asyncio.Lock()
        self._next = 0.0

    def slow_down_to(self, rate_per_second: float) -> None:
        if rate_per_second > 0:
            self.interval = max(self.interval, 1.0 / rate_per_second)

    async def wait_turn(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        if self.interval <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await sleep(start - now)


# Gates hold asyncio primitives, which belong to one event loop.
_SHARED_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _HostGate]] = (
    weakref.WeakKeyDictionary()
)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with pacing, retries and a body size limit (see module doc)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        rate_per_second: float = 0.5,
        concurrency: int = 2,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.rate_per_second = rate_per_second
        self.concurrency = concurrency
        self.retries = max(0, retries)
        self.backoff_seconds = backoff_seconds
        self.max_retry_after = max_retry_after
        self.max_body_bytes = max_body_bytes
        self._sleep = sleep
        self.attempts = 0  # every request sent, retries included (for tests and benches)

    def _gate(self, host: str) -> _HostGate:
        """The host's gate, shared by every client in this event loop: two sources on
        m.weibo.cn together keep the slower one's pace (and the first one's concurrency),
        because the platform sees one visitor, not two."""
        gates = _SHARED_GATES.setdefault(asyncio.get_running_loop(), {})
        gate = gates.get(host)
        if gate is None:
            gate = gates[host] = _HostGate(self.rate_per_second, self.concurrency)
        else:
            gate.slow_down_to(self.rate_per_second)
        return gate

    def _backoff(self, attempt: int) -> float:
        ceiling = min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2**attempt)
        return random.uniform(0, ceiling)  # full jitter: retries from many sources spread

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        gate = self._gate(request.url.host)
        attempt = 0
        while True:
            await gate.wait_turn(self._sleep)
            try:
                async with gate.semaphore:
                    self.attempts += 1
                    response = await self._send(request)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt >= self.retries:
                    raise
                delay = self._backoff(attempt)
                log.info(
                    "%s %s: %s; retry %d/%d in %.1fs",
                    request.method,
                    safe_url(request.url),
                    type(exc).__name__,
                    attempt + 1,
                    self.retries,
                    delay,
                )
            else:
                if response.status_code not in RETRY_STATUSES or risk_marker(response.content):
                    return response
                hint = parse_retry_after(response.headers.get("retry-after"))
                if hint is not None and hint > self.max_retry_after:
                    raise RateLimitedError(
                        f"Retry-After {hint:.0f}s from {request.url.host}",
                        response.status_code,
                        retry_after=hint,
                    )
                if attempt >= self.retries:
                    return response
                delay = hint if hint is not None else self._backoff(attempt)
                log.info(
                    "%s %s: HTTP %d; retry %d/%d in %.1fs",
                    request.method,
                    safe_url(request.url),
                    response.status_code,
                    attempt + 1,
                    self.retries,
                    delay,
                )
            attempt += 1
            await self._sleep(delay)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.is_stream_consumed:  # already in memory (e.g. httpx.MockTransport)
            self._check_size(len(response.content), request)
            return response
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_raw():
                size += len(chunk)
                self._check_size(size, request)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=b"".join(chunks),
            extensions=response.extensions,
            request=request,
        )

    def _check_size(self, size: int, request: httpx.Request) -> None:
        if size > self.max_body_bytes:
            raise ShapeError(
                f"response body larger than {self.max_body_bytes} bytes "
                f"from {safe_url(request.url)}"
            )

    async def aclose(self) -> None:
        await self.inner.aclose()


def build_client(
    settings: HttpSourceSettings,
    *,
    default_base_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """The client for one source: ``settings.base_url`` (or the platform's default),
    pacing and retries, proxy, cookie from ``cookie_env``, UA, HTTP/2 when asked.

    ``transport`` replaces the network transport (tests); the policy still wraps it."""
    inner = transport or httpx.AsyncHTTPTransport(
        http2=settings.http2, proxy=settings.proxy, retries=0
    )
    polite = PoliteTransport(
        inner,
        rate_per_second=settings.rate_per_second,
        concurrency=settings.concurrency,
        retries=settings.retries,
        backoff_seconds=settings.backoff_seconds,
    )
    merged = {"User-Agent": settings.user_agent or DEFAULT_USER_AGENT}
    cookie = env_secret(settings.cookie_env)
    if cookie:
        merged["Cookie"] = cookie
    elif settings.cookie_env:
        log.warning(
            "source %s: environment variable %s is not set; requests go without a cookie",
            settings.name,
            settings.cookie_env,
        )
    merged.update(headers or {})
    limits = httpx.Limits(max_connections=max(1, settings.concurrency) * 2)
    return httpx.AsyncClient(
        base_url=settings.base_url or default_base_url,
        headers=merged,
        timeout=httpx.Timeout(settings.timeout_seconds),
        transport=polite,
        limits=limits,
        follow_redirects=True,
    )


def client_from(
    context: CollectorContext, settings: HttpSourceSettings, default_base_url: str
) -> httpx.AsyncClient:
    """The collector's client: the context's factory when the runner or a test gives one."""
    if context.client_for is not None:
        return context.client_for(settings, default_base_url)
    return build_client(settings, default_base_url=default_base_url)


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or :class:`ShapeError` (HTML page, truncated JSON, empty)."""
    body = response.content
    if not body.strip():
        raise ShapeError(f"empty body (HTTP {response.status_code})")
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        head = body.lstrip()[:1]
        kind = "HTML" if head == b"<" else "malformed JSON"
        raise ShapeError(f"{kind} where JSON was expected: {exc}", body) from None
