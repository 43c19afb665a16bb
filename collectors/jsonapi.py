"""The ``jsonapi`` source: any JSON HTTP API (data vendors), configured, not coded.

An operator describes the API in ``radar.toml``: a URL template, the auth header (the
token itself from the environment variable ``token_env``), the paging rule (page number,
offset, or a cursor field in the response) and JMESPath expressions from a response to
its items and from an item to post fields. Paging and checkpoints go through
:mod:`collectors.incremental`, so a restart between pages neither skips nor repeats.

Example::

    [[sources]]
    kind = "jsonapi"
    name = "vendor"
    base_url = "https://api.vendor.example"
    url = "/v2/posts"
    params = { q = "{query}", size = "{page_size}", cursor = "{cursor}" }
    queries = ["退保", "征信修复"]
    token_env = "VENDOR_TOKEN"
    paging = "cursor"
    next_cursor = "data.next"
    items = "data.list"
    fields = { id = "mid", text = "content", author_id = "user.id",
               author_name = "user.name", created_at = "ts", url = "link" }
    risk_control = "code == `429001`"
"""

from __future__ import annotations

import re
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
import jmespath
import jmespath.exceptions
import msgspec

from collectors.base import CollectorContext, Page
from collectors.http import (
    HttpSourceSettings,
    RiskControlError,
    ShapeError,
    client_from,
    env_secret,
    json_body,
)
from collectors.incremental import Entry, Feed, FeedPage, crawl
from collectors.parsing import TimeFormatError, as_id, as_text, build_post, from_unix, html_to_text
from collectors.records import RecordError, parse_time
from collectors.registry import register
from pipeline.models import Post

TEMPLATE_VARS = frozenset({"query", "page", "offset", "cursor", "page_size", "account_id"})
POST_FIELDS = frozenset(
    {"id", "text", "author_id", "author_name", "author_bio", "url", "created_at", "platform"}
)


def _check_template(template: str, where: str) -> None:
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in TEMPLATE_VARS:
            known = ", ".join(sorted(TEMPLATE_VARS))
            raise ValueError(f"{where}: unknown placeholder {{{name}}} (known: {known})")


def _compile(expression: str, where: str) -> jmespath.parser.ParsedResult:
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"{where}: invalid JMESPath {expression!r}: {exc}") from None


class JsonApiSourceSettings(HttpSourceSettings, kw_only=True, tag="jsonapi"):
    url: str
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str] = msgspec.field(default_factory=dict)
    body: dict[str, Any] | None = None  # JSON body for POST; string values are templates
    queries: list[str] = msgspec.field(default_factory=list)  # one feed per {query}
    auth_header: str = "Authorization"
    auth_prefix: str = "Bearer "
    paging: Literal["none", "page", "offset", "cursor"] = "none"
    start_page: int = 1
    page_size: int = 50
    next_cursor: str | None = None  # JMESPath to the next cursor (paging = "cursor")
    has_more: str | None = None  # JMESPath; falsy = last page
    items: str = "@"
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    order: Literal["time", "id", "none"] = "time"
    html: bool = False  # the text field is HTML
    platform: str = "jsonapi"
    risk_control: str | None = None  # JMESPath; truthy = the vendor pushed back
    risk_statuses: list[int] = msgspec.field(default_factory=lambda: [403, 412, 432, 461])
    max_pages: int = 20
    # Recheck: a URL template with {account_id}; 404/410 or a truthy ``account_gone``
    # means the account is gone.
    account_url: str | None = None
    account_gone: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_template(self.url, "url")
        for key, value in self.params.items():
            _check_template(value, f"params.{key}")
        if "id" not in self.fields or "text" not in self.fields:
            raise ValueError("fields: needs at least `id` and `text` JMESPath expressions")
        unknown = set(self.fields) - POST_FIELDS
        if unknown:
            raise ValueError(f"fields: unknown post field {sorted(unknown)[0]!r}")
        for name, expression in (
            ("items", self.items),
            ("next_cursor", self.next_cursor),
            ("has_more", self.has_more),
            ("risk_control", self.risk_control),
            ("account_gone", self.account_gone),
            *((f"fields.{k}", v) for k, v in self.fields.items()),
        ):
            if expression is not None:
                _compile(expression, name)
        if self.paging == "cursor" and not self.next_cursor:
            raise ValueError("next_cursor: needed when paging = 'cursor'")
        if self.account_url:
            _check_template(self.account_url, "account_url")
        if not self.base_url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url: needs `base_url` or an absolute http(s) URL")


# -- pure parsing ------------------------------------------------------------------------


_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


class _Path:
    """A plain ``a.b.c`` expression, walked directly: same answer as JMESPath for dotted
    identifiers, about ten times faster (it runs once per field per post)."""

    def __init__(self, expression: str) -> None:
        self.steps = expression.split(".")

    def search(self, value: Any) -> Any:
        for step in self.steps:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value


def _field(expression: str, where: str) -> Any:
    return _Path(expression) if _DOTTED.match(expression) else _compile(expression, where)


class Mapping:
    """The compiled expressions of one source, applied to decoded responses."""

    def __init__(self, settings: JsonApiSourceSettings) -> None:
        self.settings = settings
        self.items = _field(settings.items, "items")
        self.fields = {name: _field(e, name) for name, e in settings.fields.items()}
        self.next_cursor = _maybe(settings.next_cursor)
        self.has_more = _maybe(settings.has_more)
        self.risk_control = _maybe(settings.risk_control)
        self.account_gone = _maybe(settings.account_gone)


def _maybe(expression: str | None) -> jmespath.parser.ParsedResult | None:
    return None if expression is None else jmespath.compile(expression)


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return from_unix(value)
    except TimeFormatError:
        pass
    try:
        return parse_time(value, UTC)  # ISO 8601 (naive = UTC for vendors)
    except RecordError:
        return None


def parse_response(
    body: bytes | dict[str, Any] | list[Any],
    mapping: Mapping,
    *,
    source: str,
    page_cursor: str | None,
    max_text_chars: int,
    now: datetime,
) -> tuple[FeedPage, str | None]:
    """One response → entries, the next page cursor (``None`` at the end) and reasons
    for skipped items; raises RiskControlError / ShapeError."""
    doc = body if isinstance(body, dict | list) else _decode(body)
    if mapping.risk_control is not None and mapping.risk_control.search(doc):
        raise RiskControlError("vendor risk-control answer (risk_control matched)")
    items = mapping.items.search(doc)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ShapeError(f"`items` ({mapping.settings.items}) is not a list", str(doc)[:200])
    entries: list[Entry] = []
    skipped: list[str] = []
    for index, item in enumerate(items):
        post_or_reason = _post(item, mapping, source, max_text_chars, now)
        if isinstance(post_or_reason, str):
            skipped.append(f"item {index}: {post_or_reason}")
            continue
        key = _order_key(post_or_reason, mapping.settings.order)
        if key is None:
            skipped.append(f"item {index}: no usable {mapping.settings.order} to order by")
            continue
        entries.append(Entry(post=post_or_reason, key=key))
    next_page = _next_page(doc, mapping, page_cursor, len(items))
    return FeedPage(entries=entries, next=next_page, skipped=skipped), next_page


def _decode(body: bytes) -> Any:
    return json_body(httpx.Response(200, content=body))


def _post(
    item: Any, mapping: Mapping, source: str, max_text_chars: int, now: datetime
) -> Post | str:
    values = {name: expr.search(item) for name, expr in mapping.fields.items()}
    post_id = as_id(values.get("id"))
    if post_id is None:
        return "missing id"
    text = values.get("text")
    if not isinstance(text, str) or not text.strip():
        return "missing text"
    if mapping.settings.html:
        text = html_to_text(text)
    created = values.get("created_at")
    return build_post(
        platform=as_text(values.get("platform")) or mapping.settings.platform,
        post_id=post_id,
        text=text.strip(),
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=as_id(values.get("author_id")),
        author_name=as_text(values.get("author_name")),
        author_bio=as_text(values.get("author_bio")),
        url=as_text(values.get("url")),
        created_at=_time(created),
        created_raw=None if created in (None, "") else str(created),
    )


def _order_key(post: Post, order: str) -> list[int] | None:
    if order == "none":
        return [0]
    if order == "id":
        return [int(post.post_id)] if post.post_id.isdigit() else None
    if post.created_at is None:
        return None
    tie = int(post.post_id) if post.post_id.isdigit() else 0
    return [int(post.created_at.timestamp() * 1000), tie]


def _next_page(doc: Any, mapping: Mapping, page_cursor: str | None, count: int) -> str | None:
    settings = mapping.settings
    if settings.paging == "none" or count == 0:
        return None
    if mapping.has_more is not None and not mapping.has_more.search(doc):
        return None
    if settings.paging == "page":
        return str(int(page_cursor or settings.start_page) + 1)
    if settings.paging == "offset":
        return str(int(page_cursor or 0) + count)
    found = mapping.next_cursor.search(doc) if mapping.next_cursor else None
    return as_id(found)


def render(template: str, values: dict[str, Any], *, in_path: bool = False) -> str:
    """Fill ``{placeholders}``; values are percent-encoded when they go into a path."""
    safe = {
        key: quote(str(value), safe="") if in_path else str(value) for key, value in values.items()
    }
    return template.format_map({name: safe.get(name, "") for name in TEMPLATE_VARS})


# -- the collector -----------------------------------------------------------------------


class JsonApiCollector:
    def __init__(self, settings: JsonApiSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        self._mapping = Mapping(settings)
        self._client = client_from(context, settings, settings.base_url or settings.url)

    def _headers(self) -> dict[str, str]:
        token = env_secret(self._settings.token_env)
        if not token:
            return {}
        return {self._settings.auth_header: f"{self._settings.auth_prefix}{token}"}

    def _values(self, feed: Feed, page_cursor: str | None) -> dict[str, Any]:
        s = self._settings
        values: dict[str, Any] = {"page_size": s.page_size, **feed.params}
        if s.paging == "page":
            values["page"] = page_cursor or s.start_page
        elif s.paging == "offset":
            values["offset"] = page_cursor or 0
        elif s.paging == "cursor" and page_cursor:
            values["cursor"] = page_cursor
        return values

    async def _request(self, url: str, values: dict[str, Any]) -> httpx.Response:
        s = self._settings
        params = {k: render(v, values) for k, v in s.params.items()}
        params = {k: v for k, v in params.items() if v != ""}
        body = None
        if s.method == "POST" and s.body is not None:
            body = {k: render(v, values) if isinstance(v, str) else v for k, v in s.body.items()}
        response = await self._client.request(
            s.method, url, params=params, json=body, headers=self._headers()
        )
        if response.status_code in s.risk_statuses:
            raise RiskControlError("vendor refused the request", response.status_code)
        return response

    async def _fetch_page(self, feed: Feed, page_cursor: str | None) -> FeedPage:
        values = self._values(feed, page_cursor)
        response = await self._request(render(self._settings.url, values, in_path=True), values)
        response.raise_for_status()
        page, _ = parse_response(
            json_body(response),
            self._mapping,
            source=self.name,
            page_cursor=page_cursor,
            max_text_chars=self._context.max_text_chars,
            now=datetime.now(UTC),
        )
        return page

    def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        s = self._settings
        feeds = (
            [Feed(key=f"q:{q}", ordered=s.order != "none", params={"query": q}) for q in s.queries]
            if s.queries
            else [Feed(key="api", ordered=s.order != "none")]
        )
        return crawl(feeds, cursor, source=self.name, fetch=self._fetch_page, max_pages=s.max_pages)

    async def check_account(self, platform: str, account_id: str) -> bool | None:
        """True when the vendor says the account is gone, None when it cannot tell."""
        s = self._settings
        if not s.account_url or platform != s.platform:
            return None
        values = {"account_id": account_id}
        response = await self._request(render(s.account_url, values, in_path=True), values)
        if response.status_code in (404, 410):
            return True
        response.raise_for_status()
        if self._mapping.account_gone is None:
            return False
        return bool(self._mapping.account_gone.search(json_body(response)))

    async def aclose(self) -> None:
        await self._client.aclose()


register(JsonApiSourceSettings, JsonApiCollector)
