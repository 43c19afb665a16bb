"""The ``zhihu`` source: members' answers and articles, with the operator's cookie.

Endpoints: ``/api/v4/members/{url_token}/answers`` and ``…/articles`` with
``sort_by=created``, ``offset`` and ``limit``. Answers are ``data[]`` with ``id``,
``content`` (HTML; ``excerpt`` when the ``include`` was not honoured), ``created_time``
(unix s), ``question{id, title}``, ``author{url_token, name, headline}``,
``voteup_count``, ``comment_count``; articles have ``title`` and ``created`` instead.
Paging is ``paging{is_end, next}``; ``next`` is an absolute URL whose path and query are
the resume point (re-based onto the configured ``base_url``, never followed to another
host).

Checkpoints: both lists are newest first by creation time, so each member feed is ordered
by ``(created, id)`` and stops at the newest item of the last finished crawl. Offset
paging shifts when the member posts during a crawl; the ``last`` key in the cursor drops
the repeats this causes (see :mod:`collectors.incremental`).

Risk control: ``error.code`` 40362 / 40352 / 10003, HTTP 403 with such an error, or an
"unhuman" / 安全验证 challenge page raise :class:`RiskControlError`. No ``x-zse-96``
signing is attempted: the operator's cookie is what grants access.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
import msgspec

from collectors.base import CollectorContext, Page
from collectors.http import HttpSourceSettings, RiskControlError, ShapeError, client_from
from collectors.incremental import Entry, Feed, FeedPage, crawl
from collectors.parsing import (
    TimeFormatError,
    as_id,
    as_text,
    build_post,
    dig,
    from_unix,
    html_to_text,
    load_json,
    parse_count,
)
from collectors.registry import register
from pipeline.models import MAX_TEXT_CHARS, Post

DEFAULT_BASE_URL = "https://www.zhihu.com"
RISK_CODES = frozenset({40362, 40352, 10003})
_CHALLENGE_MARKS = (b"unhuman", "安全验证".encode(), b"zse-ck", b"captcha")
_INCLUDE = {
    "answers": "data[*].content,excerpt,created_time,voteup_count,comment_count,question",
    "articles": "data[*].content,excerpt,created,voteup_count,comment_count,title",
}
Kind = Literal["answers", "articles"]


class ZhihuSourceSettings(HttpSourceSettings, tag="zhihu"):
    # Members to follow, by url_token (the part after /people/ in their page URL).
    members: list[str] = msgspec.field(default_factory=list)
    answers: bool = True
    articles: bool = True
    page_size: int = 20
    max_pages: int = 5


# -- parsing (pure) ----------------------------------------------------------------------


def _check_risk(decoded: Any, status: int | None = None) -> None:
    code = dig(decoded, "error", "code")
    if code is None:
        return
    message = str(dig(decoded, "error", "message") or "")[:80]
    if isinstance(code, int) and code in RISK_CODES:
        raise RiskControlError(f"zhihu error {code}: {message}", status)
    raise ShapeError(f"zhihu error {code}: {message}", repr(decoded)[:200])


def _author(item: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    author = item.get("author") if isinstance(item.get("author"), dict) else {}
    token = as_text(author.get("url_token"))
    if token is None:
        hex_id = as_id(author.get("id"))
        token = hex_id if hex_id not in (None, "0") else None  # "0" = anonymous
    return token, as_text(author.get("name")), as_text(author.get("headline"))


def item_entry(
    item: dict[str, Any], kind: Kind, *, source: str, now: datetime, max_text_chars: int
) -> Entry:
    raw_id = item.get("id")
    item_id = as_id(raw_id)
    if item_id is None or not item_id.isdigit():
        raise ValueError(f"{kind[:-1]} without a numeric id")
    body = item.get("content") if isinstance(item.get("content"), str) else item.get("excerpt")
    text = html_to_text(body if isinstance(body, str) else "")
    if kind == "articles":
        title = html_to_text(as_text(item.get("title")))
        text = "\n".join(part for part in (title, text) if part)
    if not text:
        raise ValueError(f"{kind[:-1]} {item_id} without text")
    created = item.get("created_time" if kind == "answers" else "created")
    try:
        created_at = from_unix(created)
    except TimeFormatError:
        created_at = None
    if kind == "answers":
        question = as_id(dig(item, "question", "id"))
        url = (
            f"https://www.zhihu.com/question/{question}/answer/{item_id}"
            if question
            else f"https://www.zhihu.com/answer/{item_id}"
        )
        post_id = f"answer/{item_id}"
    else:
        url = f"https://zhuanlan.zhihu.com/p/{item_id}"
        post_id = f"article/{item_id}"
    author_id, author_name, author_bio = _author(item)
    post = build_post(
        platform="zhihu",
        post_id=post_id,
        text=text,
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=author_id,
        author_name=author_name,
        author_bio=author_bio,
        url=url,
        created_at=created_at,
        created_raw=None if created is None else str(created),
        counts={
            "likes": parse_count(item.get("voteup_count")),
            "comments": parse_count(item.get("comment_count")),
        },
    )
    seconds = int(created_at.timestamp()) if created_at else 0
    return Entry(post=post, key=[seconds, int(item_id)])


def next_path(next_url: Any) -> str | None:
    """The path and query of ``paging.next``: the resume point, on our own base URL."""
    if not isinstance(next_url, str) or not next_url:
        return None
    url = httpx.URL(next_url)
    if not url.path.startswith("/api/v4/members/"):
        raise ShapeError(f"zhihu paging.next outside the members API: {url.path[:60]}")
    query = url.query.decode()
    return f"{url.path}?{query}" if query else url.path


def parse_member_page(
    body: bytes | dict[str, Any],
    kind: Kind = "answers",
    *,
    source: str = "zhihu",
    now: datetime | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> FeedPage:
    now = now or datetime.now(UTC)
    if (
        isinstance(body, bytes)
        and body.lstrip()[:1] == b"<"
        and any(mark in body for mark in _CHALLENGE_MARKS)
    ):
        raise RiskControlError("zhihu challenge page")
    decoded = load_json(body)
    if not isinstance(decoded, dict):
        raise ShapeError("zhihu answer is not a JSON object", repr(decoded)[:200])
    _check_risk(decoded)
    items, paging = decoded.get("data"), decoded.get("paging")
    if not isinstance(items, list) or not isinstance(paging, dict):
        raise ShapeError("zhihu answer without data[] and paging", repr(decoded)[:200])
    entries: list[Entry] = []
    skipped: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            entries.append(
                item_entry(item, kind, source=source, now=now, max_text_chars=max_text_chars)
            )
        except ValueError as exc:
            skipped.append(str(exc))
    next_cursor = None if paging.get("is_end") is not False else next_path(paging.get("next"))
    return FeedPage(entries=entries, next=next_cursor, skipped=skipped)


def parse_answers(body: bytes | dict[str, Any], **options: Any) -> tuple[list[Post], str | None]:
    page = parse_member_page(body, "answers", **options)
    return page.posts, page.next


def parse_articles(body: bytes | dict[str, Any], **options: Any) -> tuple[list[Post], str | None]:
    page = parse_member_page(body, "articles", **options)
    return page.posts, page.next


def check_response(response: httpx.Response) -> None:
    if "unhuman" in response.url.path or "/account/" in response.url.path:
        raise RiskControlError("zhihu sent a challenge page", response.status_code)
    if response.status_code in (401, 403):
        body = response.content
        with contextlib.suppress(ShapeError):
            _check_risk(load_json(body), response.status_code)
        if any(mark in body for mark in _CHALLENGE_MARKS):
            raise RiskControlError("zhihu challenge page", response.status_code)
        raise RiskControlError("zhihu refused the request", response.status_code)
    if response.status_code >= 400 and response.status_code != 404:
        raise ShapeError(f"HTTP {response.status_code} from zhihu", response.content)


# -- collector ---------------------------------------------------------------------------


class ZhihuCollector:
    def __init__(self, settings: ZhihuSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        self._client = client_from(context, settings, DEFAULT_BASE_URL)
        self._client.headers.setdefault("Referer", "https://www.zhihu.com/")

    def feeds(self) -> list[Feed]:
        kinds: list[Kind] = []
        if self._settings.answers:
            kinds.append("answers")
        if self._settings.articles:
            kinds.append("articles")
        return [
            Feed(f"{kind}:{member}", params={"member": member, "kind": kind})
            for member in self._settings.members
            for kind in kinds
        ]

    def first_path(self, member: str, kind: Kind) -> str:
        include = quote(_INCLUDE[kind], safe="")
        return (
            f"/api/v4/members/{quote(member, safe='')}/{kind}?include={include}"
            f"&offset=0&limit={self._settings.page_size}&sort_by=created"
        )

    async def _page(self, feed: Feed, cursor: str | None) -> FeedPage:
        kind: Kind = feed.params["kind"]
        response = await self._client.get(cursor or self.first_path(feed.params["member"], kind))
        check_response(response)
        if response.status_code == 404:
            raise ShapeError(f"zhihu member {feed.params['member']} not found (HTTP 404)")
        return parse_member_page(
            response.content,
            kind,
            source=self.name,
            now=datetime.now(UTC),
            max_text_chars=self._context.max_text_chars,
        )

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        async for page in crawl(
            self.feeds(),
            cursor,
            source=self.name,
            fetch=self._page,
            max_pages=self._settings.max_pages,
        ):
            yield page

    async def check_account(self, platform: str, account_id: str) -> bool | None:
        """For the recheck job: True when the member is gone (404), False when the
        profile answers, None when Zhihu would not say (risk control, odd answer)."""
        if platform != "zhihu":
            return None
        try:
            response = await self._client.get(f"/api/v4/members/{quote(account_id, safe='')}")
            if response.status_code in (404, 410):
                return True
            check_response(response)
            decoded = load_json(response.content)
        except (RiskControlError, ShapeError, httpx.HTTPError):
            return None
        if dig(decoded, "error", "code") is not None:
            return None
        if isinstance(decoded, dict) and (decoded.get("id") or decoded.get("url_token")):
            return False
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


register(ZhihuSourceSettings, ZhihuCollector)
