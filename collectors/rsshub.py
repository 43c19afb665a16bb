"""The ``rsshub`` source: any RSSHub route, as RSS 2.0 or JSON Feed.

RSSHub (self-hosted: the instance URL is ``base_url``) turns Douyin, Xiaohongshu,
Kuaishou, Tieba, Weibo and Zhihu pages into feeds, so one adapter covers platforms whose
own APIs we do not call. A feed is a flat list without paging, so each route is one
unordered feed in :mod:`collectors.incremental`: an item is new when its id is not among
the ids already handed on.

Author ids come from links (RSSHub puts the profile URL in the channel ``<link>`` of user
routes and the post URL in each item), per platform, by the patterns in
:data:`AUTHOR_PATTERNS`; the channel description of a user route is the account's bio.
Parsing is pure: :func:`parse_rss` and :func:`parse_json_feed` take a body and return
posts, raising :class:`~collectors.http.ShapeError` on anything that is not a feed. An
error page relaying an upstream block (461, ``verify_check``, captcha) is risk control.

Example::

    [[sources]]
    kind = "rsshub"
    name = "rsshub-accounts"
    base_url = "http://rsshub.internal:1200"   # your instance
    token_env = "RSSHUB_ACCESS_KEY"            # if the instance sets ACCESS_KEY
    routes = ["/weibo/user/1195230310", "/douyin/user/MS4wLjABAAAA…",
              "/xiaohongshu/user/5d2c8b7e000000001101a2b3/notes", "/kuaishou/profile/3x…",
              "/baidu/tieba/forum/退保", "/zhihu/people/activities/zhengxin-li"]
    format = "rss"                             # or "json" (JSON Feed)
    interval_seconds = 900
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from collectors.base import CollectorContext, Page
from collectors.http import (
    HttpSourceSettings,
    RiskControlError,
    ShapeError,
    client_from,
    env_secret,
    risk_marker,
)
from collectors.incremental import Entry, Feed, FeedPage, crawl
from collectors.parsing import (
    TimeFormatError,
    as_id,
    as_text,
    build_post,
    html_to_text,
    load_json,
    parse_rfc1123,
)
from collectors.registry import register
from pipeline.models import Post

DEFAULT_INSTANCE = "https://rsshub.app"
_DC = "{http://purl.org/dc/elements/1.1/}"

# Route prefix → platform name (the same names the platform adapters use).
ROUTE_PLATFORMS: tuple[tuple[str, str], ...] = (
    ("/weibo/", "weibo"),
    ("/douyin/", "douyin"),
    ("/xiaohongshu/", "xiaohongshu"),
    ("/kuaishou/", "kuaishou"),
    ("/baidu/tieba/", "tieba"),
    ("/tieba/", "tieba"),
    ("/zhihu/", "zhihu"),
    ("/bilibili/", "bilibili"),
)
# Link host → platform, for items whose route does not say (``/rsshub/…``, custom routes).
HOST_PLATFORMS: tuple[tuple[str, str], ...] = (
    ("weibo.com", "weibo"),
    ("weibo.cn", "weibo"),
    ("douyin.com", "douyin"),
    ("xiaohongshu.com", "xiaohongshu"),
    ("kuaishou.com", "kuaishou"),
    ("tieba.baidu.com", "tieba"),
    ("zhihu.com", "zhihu"),
    ("bilibili.com", "bilibili"),
)
# Profile links, per platform: the first group is the account id.
AUTHOR_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "weibo": (
        re.compile(r"weibo\.(?:com|cn)/(?:u/|profile/)?(\d{5,})(?:[/?#]|$)"),
        re.compile(r"m\.weibo\.cn/(?:u|profile)/(\d{5,})"),
    ),
    "douyin": (re.compile(r"douyin\.com/user/([\w-]+)"),),
    "xiaohongshu": (re.compile(r"xiaohongshu\.com/user/profile/([0-9a-zA-Z]+)"),),
    "kuaishou": (re.compile(r"kuaishou\.com/profile/([\w-]+)"),),
    "tieba": (re.compile(r"tieba\.baidu\.com/home/main/?\?(?:.*&)?(?:id|un)=([^&#]+)"),),
    "zhihu": (re.compile(r"zhihu\.com/(?:people|org)/([\w-]+)"),),
    "bilibili": (re.compile(r"space\.bilibili\.com/(\d+)"),),
}
# Post links, per platform: the first group is the post id.
POST_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "weibo": (
        re.compile(r"weibo\.com/\d+/(\w+)"),
        re.compile(r"m\.weibo\.cn/(?:status|detail)/(\w+)"),
    ),
    "douyin": (re.compile(r"douyin\.com/(?:video|note)/(\d+)"),),
    "xiaohongshu": (re.compile(r"xiaohongshu\.com/(?:explore|discovery/item)/([0-9a-zA-Z]+)"),),
    "kuaishou": (re.compile(r"kuaishou\.com/(?:short-video|photo)/([\w-]+)"),),
    "tieba": (re.compile(r"tieba\.baidu\.com/p/(\d+)"),),
    "zhihu": (
        re.compile(r"zhihu\.com/question/\d+/answer/(\d+)"),
        re.compile(r"zhuanlan\.zhihu\.com/p/(\d+)"),
        re.compile(r"zhihu\.com/pin/(\d+)"),
    ),
    "bilibili": (
        re.compile(r"bilibili\.com/video/(BV\w+|av\d+)"),
        re.compile(r"t\.bilibili\.com/(\d+)"),
    ),
}
# Channel titles of user routes name the account with a suffix: "某某的微博".
_TITLE_SUFFIX = re.compile(
    r"\s*(?:的(?:微博|抖音|小红书|快手|知乎动态|知乎回答|知乎文章|专栏|投稿视频|动态|主页|笔记)"
    r"|\s*-\s*(?:微博|抖音|小红书|快手|知乎|哔哩哔哩).*)$"
)

_POWERED_BY = re.compile(r"\s*-?\s*(?:Powered|Made with love) by RSSHub.*$", re.DOTALL)


class RsshubSourceSettings(HttpSourceSettings, kw_only=True, tag="rsshub"):
    """``base_url`` is the RSSHub instance; ``token_env`` names its access key, if any."""

    routes: list[str]
    platform: str | None = None  # overrides the platform guessed from route / links
    format: Literal["rss", "json"] = "rss"
    interval_seconds: float = 900.0


# -- pure parsing ------------------------------------------------------------------------


def platform_of(route: str, link: str | None = None) -> str | None:
    path = "/" + route.lstrip("/")
    for prefix, platform in ROUTE_PLATFORMS:
        if path.startswith(prefix):
            return platform
    host = urlsplit(link or "").hostname or ""
    for suffix, platform in HOST_PLATFORMS:
        if host == suffix or host.endswith("." + suffix):
            return platform
    return None


def _first_match(patterns: tuple[re.Pattern[str], ...], link: str | None) -> str | None:
    if not link:
        return None
    for pattern in patterns:
        found = pattern.search(link)
        if found:
            return found.group(1)
    return None


def author_id_from_link(platform: str, link: str | None) -> str | None:
    """The account id in a profile link (``https://weibo.com/u/1195230310`` → the uid)."""
    found = _first_match(AUTHOR_PATTERNS.get(platform, ()), link)
    if found and platform == "tieba":
        return parse_qs(f"x={found}")["x"][0]  # tieba names are percent-encoded
    return found


def post_id_from_link(platform: str, link: str | None) -> str | None:
    return _first_match(POST_PATTERNS.get(platform, ()), link)


def _account_name(title: str | None) -> str | None:
    if not title:
        return None
    name = _TITLE_SUFFIX.sub("", title).strip()
    return name if name and name != title.strip() else None


class _Channel:
    """What a feed says about the account behind a user route."""

    def __init__(self, title: str | None, link: str | None, description: str | None) -> None:
        self.title = title
        self.link = link
        self.description = description


def _time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        pass
    try:
        return parse_rfc1123(raw)
    except TimeFormatError:
        return None


def _item_post(
    *,
    route: str,
    source: str,
    channel: _Channel,
    item_id: str | None,
    link: str | None,
    title: str | None,
    body_html: str | None,
    author: str | None,
    author_link: str | None,
    published: str | None,
    platform_override: str | None,
    max_text_chars: int,
    now: datetime,
) -> Post | None:
    platform = platform_override or platform_of(route, link or channel.link) or "rsshub"
    body = html_to_text(body_html)
    head = html_to_text(title)
    if head and body and not body.startswith(head[:20].rstrip(".…")):
        text = f"{head}\n{body}"
    else:
        text = body or head
    post_id = post_id_from_link(platform, link) or as_text(item_id) or as_text(link)
    if not text or not post_id:
        return None
    channel_author = author_id_from_link(platform, channel.link)
    author_id = (
        author_id_from_link(platform, author_link)
        or author_id_from_link(platform, link)
        or channel_author
    )
    user_route = author_id is not None and channel_author == author_id
    bio = _POWERED_BY.sub("", html_to_text(channel.description)).strip() if user_route else ""
    return build_post(
        platform=platform,
        post_id=post_id,
        text=text,
        source=source,
        max_text_chars=max_text_chars,
        collected_at=now,
        author_id=author_id,
        author_name=as_text(author) or (_account_name(channel.title) if user_route else None),
        author_bio=bio or None,
        url=as_text(link),
        created_at=_time(published),
        created_raw=as_text(published),
    )


def _text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    child = element.find(tag)
    return child.text if child is not None and child.text else None


def parse_rss(
    body: bytes | str,
    *,
    route: str,
    source: str,
    max_text_chars: int,
    now: datetime,
    platform: str | None = None,
) -> tuple[list[Post], str | None]:
    """An RSS 2.0 document → posts (no next cursor: feeds do not page)."""
    raw = body.encode() if isinstance(body, str) else body
    if not raw.strip():
        raise ShapeError("empty body where RSS was expected")
    try:
        root = SafeET.fromstring(raw)
    except (ParseError, DefusedXmlException) as exc:
        kind = "unsafe XML" if isinstance(exc, DefusedXmlException) else "not XML"
        raise ShapeError(f"{kind} where RSS was expected: {exc}", raw) from None
    channel_el = root.find("channel")
    if root.tag != "rss" or channel_el is None:
        raise ShapeError(f"not an RSS 2.0 feed (root <{root.tag}>)", raw)
    channel = _Channel(
        _text(channel_el, "title"), _text(channel_el, "link"), _text(channel_el, "description")
    )
    posts = []
    for item in channel_el.findall("item"):
        post = _item_post(
            route=route,
            source=source,
            channel=channel,
            item_id=_text(item, "guid"),
            link=_text(item, "link"),
            title=_text(item, "title"),
            body_html=_text(item, "description"),
            author=_text(item, "author") or _text(item, f"{_DC}creator"),
            author_link=None,
            published=_text(item, "pubDate") or _text(item, f"{_DC}date"),
            platform_override=platform,
            max_text_chars=max_text_chars,
            now=now,
        )
        if post is not None:
            posts.append(post)
    return posts, None


def _json_author(item: dict[str, Any]) -> tuple[str | None, str | None]:
    authors = item.get("authors")
    author = authors[0] if isinstance(authors, list) and authors else item.get("author")
    if isinstance(author, dict):
        return as_text(author.get("name")), as_text(author.get("url"))
    return None, None


def parse_json_feed(
    body: bytes | str | dict[str, Any],
    *,
    route: str,
    source: str,
    max_text_chars: int,
    now: datetime,
    platform: str | None = None,
) -> tuple[list[Post], str | None]:
    """A JSON Feed (1.0 / 1.1) document → posts."""
    doc = load_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ShapeError("not a JSON Feed (no `items` list)", str(doc)[:200])
    channel = _Channel(
        as_text(doc.get("title")),
        as_text(doc.get("home_page_url")),
        as_text(doc.get("description")),
    )
    posts = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        name, author_link = _json_author(item)
        post = _item_post(
            route=route,
            source=source,
            channel=channel,
            item_id=as_id(item.get("id")),
            link=as_text(item.get("url")),
            title=as_text(item.get("title")),
            body_html=as_text(item.get("content_html")) or as_text(item.get("content_text")),
            author=name,
            author_link=author_link,
            published=as_text(item.get("date_published")),
            platform_override=platform,
            max_text_chars=max_text_chars,
            now=now,
        )
        if post is not None:
            posts.append(post)
    return posts, None


# -- the collector -----------------------------------------------------------------------


class RsshubCollector:
    def __init__(self, settings: RsshubSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        self._client = client_from(context, settings, DEFAULT_INSTANCE)

    def _params(self) -> dict[str, str]:
        params = {"format": "json"} if self._settings.format == "json" else {}
        key = env_secret(self._settings.token_env)
        if key:
            params["key"] = key  # RSSHub's ACCESS_KEY
        return params

    async def _fetch_route(self, feed: Feed, _page: str | None) -> FeedPage:
        route = feed.key
        response = await self._client.get("/" + route.lstrip("/"), params=self._params())
        if response.status_code >= 400:
            # RSSHub passes an upstream platform's risk-control answer on in its error
            # page (Xiaohongshu 461, Douyin verify_check, captcha pages): back off.
            marker = risk_marker(response.content)
            if marker is not None:
                raise RiskControlError(
                    f"upstream risk control via RSSHub ({marker})", response.status_code
                )
            response.raise_for_status()
        parse = parse_json_feed if self._settings.format == "json" else parse_rss
        posts, _ = parse(
            response.content,
            route=route,
            source=self.name,
            max_text_chars=self._context.max_text_chars,
            now=datetime.now(UTC),
            platform=self._settings.platform,
        )
        return FeedPage(entries=[Entry(post=post, key=[0]) for post in posts], next=None)

    def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        feeds = [Feed(key=route, ordered=False) for route in self._settings.routes]
        return crawl(feeds, cursor, source=self.name, fetch=self._fetch_route, max_pages=1)

    async def aclose(self) -> None:
        await self._client.aclose()


register(RsshubSourceSettings, RsshubCollector)
