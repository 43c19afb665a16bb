"""The ``weibo`` source: keyword search and user timelines from m.weibo.cn.

Both come from ``/api/container/getIndex``: a timeline is ``containerid=107603{uid}``,
paged backwards with ``since_id`` (the id of the next older post, from
``data.cardlistInfo.since_id``); a keyword search is ``containerid=100103type=1&q=…``,
paged with ``page`` (``data.cardlistInfo.page`` is the next page, ``null`` at the end).
Posts are ``data.cards[].mblog`` (search nests them in ``card_group``); ``text`` is HTML.
A watched user's bio comes from the profile container ``100505{uid}`` (once per run) when
the timeline's ``mblog.user`` lacks ``description``; posts shown cut (``isLongText``) get
their full text from ``/statuses/extend``. A repost's original (``retweeted_status``) is
handed on with the repost, as its own author's post.

Checkpoints (see :mod:`collectors.incremental`): a timeline is ordered by post id (Weibo
ids grow with time) and stops at the newest id of the last finished crawl; the pinned
post (``mblogtype == 2``, shown first whatever its age) never stops it. Search results
are ranked, not dated, so search remembers the ids it handed on and stops at the first
page with nothing new. ``since_id`` and ``page`` are the resume points after a restart.

Risk control: HTTP 432 (and 403/418), ``ok`` other than 1 (except the "这里还没有内容"
end of a feed), or a redirect to the visitor passport raise :class:`RiskControlError`;
the source cools down instead of retrying.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from collectors.base import CollectorContext
from collectors.bios import BioFeedCollector, with_bio
from collectors.http import HttpSourceSettings, RiskControlError, ShapeError, client_from
from collectors.incremental import Entry, Feed, FeedPage
from collectors.parsing import (
    TimeFormatError,
    as_id,
    as_text,
    build_post,
    dig,
    html_to_text,
    load_json,
    parse_count,
    parse_weibo_time,
)
from collectors.registry import register
from pipeline.models import MAX_TEXT_CHARS, Post

DEFAULT_BASE_URL = "https://m.weibo.cn"
INDEX_PATH = "/api/container/getIndex"
RISK_STATUSES = frozenset({403, 418, 432})
_END_OF_FEED = ("还没有内容", "没有更多", "不存在")


class WeiboSourceSettings(HttpSourceSettings, tag="weibo"):
    keywords: list[str] = msgspec.field(default_factory=list)
    uids: list[str] = msgspec.field(default_factory=list)
    max_pages: int = 5
    # Fetch a watched user's profile (for the bio) when the timeline lacks it.
    profiles: bool = True
    # Fetch the full text of posts the feed shows cut ("isLongText"); ads hide contacts
    # at the end of long posts.
    long_text: bool = True


# -- parsing (pure) ----------------------------------------------------------------------


def _check_ok(body: Any) -> bool:
    """True when the answer is a page; False at the end of a feed; raises otherwise."""
    if not isinstance(body, dict):
        raise ShapeError("getIndex answer is not a JSON object", repr(body))
    ok = body.get("ok")
    if ok == 1:
        return True
    message = str(body.get("msg") or body.get("message") or "")
    if ok == 0 and any(mark in message for mark in _END_OF_FEED):
        return False
    raise RiskControlError(f"weibo answered ok={ok!r}: {message[:80]}")


def _mblogs(cards: list[Any]) -> list[Any]:
    found: list[Any] = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        if isinstance(card.get("mblog"), dict):
            found.append(card["mblog"])
        group = card.get("card_group")
        if isinstance(group, list):
            found.extend(_mblogs(group))
    return found


def is_pinned(mblog: dict[str, Any]) -> bool:
    return (
        mblog.get("mblogtype") == 2
        or mblog.get("isTop") in (1, True)
        or dig(mblog, "title", "text") == "置顶"
    )


def mblog_entry(mblog: dict[str, Any], *, source: str, now: datetime, max_text_chars: int) -> Entry:
    """One ``mblog`` → an :class:`Entry`; ``ValueError`` when it has no id or text."""
    post_id = as_id(mblog.get("idstr")) or as_id(mblog.get("id")) or as_id(mblog.get("mid"))
    if post_id is None or not post_id.isdigit():
        raise ValueError("mblog without a numeric id")
    raw_text = mblog.get("text")
    if not isinstance(raw_text, str):
        raise ValueError(f"mblog {post_id} without text")
    text = html_to_text(raw_text)
    if not text:
        raise ValueError(f"mblog {post_id} has no text (picture or video only)")
    user = mblog.get("user") if isinstance(mblog.get("user"), dict) else {}
    created_raw = as_text(mblog.get("created_at"))
    created_at = None
    if created_raw:
        try:
            created_at = parse_weibo_time(created_raw, now=now)
        except TimeFormatError:
            created_at = None
    post = build_post(
        platform="weibo",
        post_id=post_id,
        text=text,
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=as_id(user.get("id")),
        author_name=as_text(user.get("screen_name")),
        author_bio=as_text(user.get("description")),
        url=f"https://m.weibo.cn/detail/{post_id}",
        created_at=created_at,
        created_raw=created_raw,
        counts={
            "reposts": parse_count(mblog.get("reposts_count")),
            "comments": parse_count(mblog.get("comments_count")),
            "likes": parse_count(mblog.get("attitudes_count")),
        },
    )
    partial = mblog.get("isLongText") in (True, 1)
    attached = []
    original = mblog.get("retweeted_status")
    if isinstance(original, dict) and as_id(dig(original, "user", "id")):
        # The reposted original is its author's post (often the advertiser's); a deleted
        # one ("此微博已被作者删除") has no user and is left out.
        flat = {key: value for key, value in original.items() if key != "retweeted_status"}
        with contextlib.suppress(ValueError):
            attached.append(
                mblog_entry(flat, source=source, now=now, max_text_chars=max_text_chars).post
            )
    return Entry(
        post=post,
        key=[int(post_id)],
        pinned=is_pinned(mblog),
        partial=partial,
        attached=attached,
    )


def parse_getindex_page(
    body: bytes | dict[str, Any],
    *,
    paging: str = "since_id",
    source: str = "weibo",
    now: datetime | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> FeedPage:
    """A getIndex answer → entries and the next cursor (``since_id`` for timelines,
    ``page`` for search). Malformed mblogs are skipped and named, not fatal."""
    now = now or datetime.now(UTC)
    data = load_json(body)
    if not _check_ok(data):
        return FeedPage(entries=[])
    cards = dig(data, "data", "cards")
    if not isinstance(cards, list):
        raise ShapeError("getIndex answer without data.cards", repr(data)[:200])
    entries: list[Entry] = []
    skipped: list[str] = []
    mblogs = _mblogs(cards)
    for mblog in mblogs:
        try:
            entries.append(
                mblog_entry(mblog, source=source, now=now, max_text_chars=max_text_chars)
            )
        except ValueError as exc:
            skipped.append(str(exc))
    next_value = dig(data, "data", "cardlistInfo", paging)
    next_cursor = as_id(next_value)
    if next_cursor in ("0", None) or not mblogs:
        next_cursor = None
    return FeedPage(entries=entries, next=next_cursor, skipped=skipped)


def parse_getindex(body: bytes | dict[str, Any], **options: Any) -> tuple[list[Post], str | None]:
    """Posts and next cursor of a getIndex answer (see :func:`parse_getindex_page`)."""
    page = parse_getindex_page(body, **options)
    return page.posts, page.next


def parse_long_text(body: bytes | dict[str, Any]) -> str | None:
    """The full text from ``/statuses/extend?id=…`` (``data.longTextContent``, HTML)."""
    data = load_json(body)
    if not _check_ok(data):
        return None
    content = dig(data, "data", "longTextContent")
    if not isinstance(content, str):
        raise ShapeError("extend answer without data.longTextContent", repr(data)[:200])
    return html_to_text(content) or None


def parse_profile(body: bytes | dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``(uid, screen_name, description)`` from the profile container ``100505{uid}``."""
    data = load_json(body)
    if not _check_ok(data):
        return None, None, None
    info = dig(data, "data", "userInfo")
    if not isinstance(info, dict):
        raise ShapeError("profile answer without data.userInfo", repr(data)[:200])
    return (
        as_id(info.get("id")),
        as_text(info.get("screen_name")),
        as_text(info.get("description")),
    )


def check_response(response: httpx.Response) -> None:
    """Risk-control answers by status or by a redirect to the visitor passport."""
    if response.status_code in RISK_STATUSES:
        raise RiskControlError("weibo risk control", response.status_code)
    if "passport" in response.url.host:
        raise RiskControlError("weibo sent the visitor passport (cookie needed)")
    if response.status_code >= 400:
        raise ShapeError(f"HTTP {response.status_code} from weibo", response.content)


# -- collector ---------------------------------------------------------------------------


class WeiboCollector(BioFeedCollector):
    def __init__(self, settings: WeiboSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        self._client = client_from(context, settings, DEFAULT_BASE_URL)
        self._client.headers.setdefault("Referer", "https://m.weibo.cn/")
        self._client.headers.setdefault("X-Requested-With", "XMLHttpRequest")
        self._bios: dict[str, str | None] = {}
        self._partial: set[str] = set()  # ids shown cut on the current page

    def feeds(self) -> list[Feed]:
        timelines = [Feed(f"u:{uid}", params={"uid": uid}) for uid in self._settings.uids]
        searches = [
            Feed(f"q:{word}", ordered=False, params={"q": word}) for word in self._settings.keywords
        ]
        return timelines + searches

    async def _get(self, query: str) -> httpx.Response:
        response = await self._client.get(f"{INDEX_PATH}?{query}")
        check_response(response)
        return response

    async def _page(self, feed: Feed, cursor: str | None) -> FeedPage:
        options = {
            "source": self.name,
            "now": datetime.now(UTC),
            "max_text_chars": self._context.max_text_chars,
        }
        if "uid" in feed.params:
            query = f"containerid=107603{quote(feed.params['uid'], safe='')}"
            if cursor:
                query += f"&since_id={quote(cursor, safe='')}"
            response = await self._get(query)
            page = parse_getindex_page(response.content, paging="since_id", **options)
        else:
            containerid = quote(f"100103type=1&q={feed.params['q']}", safe="")
            query = f"containerid={containerid}&page_type=searchall&page={cursor or 1}"
            response = await self._get(query)
            page = parse_getindex_page(response.content, paging="page", **options)
        self._partial = {entry.post.post_id for entry in page.entries if entry.partial}
        return page

    async def _long_text(self, post: Post) -> Post:
        response = await self._client.get(f"/statuses/extend?id={quote(post.post_id, safe='')}")
        check_response(response)
        try:
            text = parse_long_text(response.content)
        except ShapeError:
            return post  # the cut text is still a post
        if not text:
            return post
        limit = self._context.max_text_chars
        return msgspec.structs.replace(post, text=text[:limit], truncated=len(text) > limit)

    async def _bio(self, uid: str) -> str | None:
        if uid not in self._bios:
            response = await self._get(f"containerid=100505{quote(uid, safe='')}")
            self._bios[uid] = parse_profile(response.content)[2]
        return self._bios[uid]

    async def _enrich(self, posts: list[Post]) -> list[Post]:
        watched = set(self._settings.uids) if self._settings.profiles else set()
        enriched: list[Post] = []
        for post in posts:
            if self._settings.long_text and post.post_id in self._partial:
                post = await self._long_text(post)
            if post.author_bio is None and post.author_id in watched:
                uid = post.author_id
                post = await with_bio(post, lambda uid=uid: self._bio(uid))
            enriched.append(post)
        return enriched

    async def check_account(self, platform: str, account_id: str) -> bool | None:
        """For the recheck job: True when Weibo says the account is gone (profile answers
        "用户不存在" / nothing), False when the profile answers, None when it cannot tell
        (risk control, odd answer)."""
        if platform != "weibo" or not account_id.isdigit():
            return None
        try:
            response = await self._get(f"containerid=100505{account_id}")
            uid, _, _ = parse_profile(response.content)
        except (RiskControlError, ShapeError, httpx.HTTPError):
            return None
        return uid is None

    async def aclose(self) -> None:
        await self._client.aclose()


register(WeiboSourceSettings, WeiboCollector)
