"""The ``bilibili`` source: keyword video search and users' dynamics, as a guest.

Endpoints (shapes from bilibili-API-collect):

* search: ``/x/web-interface/wbi/search/type?search_type=video&keyword=…&order=pubdate
  &page=N`` (WBI-signed, see :mod:`collectors.wbi`) → ``data.result[]`` with ``bvid``,
  ``aid``, ``mid``, ``author``, ``title`` (keyword wrapped in ``<em class="keyword">``),
  ``description``, ``pubdate`` (unix s), ``play``, ``review``, ``favorites``, ``like``;
  ``data.numPages`` bounds the paging;
* the author's bio: ``/x/web-interface/view/detail?bvid=…`` → ``data.View`` and
  ``data.Card.card{mid, name, sign}``, fetched once per author per run (a bio does not
  change between two pages, and every request costs pacing);
* a user's dynamics: ``/x/polymer/web-dynamic/v1/feed/space?host_mid=…&offset=…`` →
  ``data.items[]`` (``id_str``, ``modules.module_author``, ``module_dynamic``,
  ``module_tag.text == "置顶"`` for the pinned one, ``orig`` for a forward's original,
  handed on with the forward as its own author's post), ``data.offset``, ``data.has_more``.

Guest access: the ``buvid3``/``buvid4`` cookies from ``/x/frontend/finger/spi`` unless the
operator supplies a cookie; the WBI keys from ``/x/web-interface/nav`` (refreshed every
few hours: they rotate daily).

Checkpoints: search sorted by ``pubdate`` is ordered by ``(pubdate, aid)``; dynamics by
their id (ids grow with time), the pinned one never stopping the crawl; the resume
points are the page number and the dynamics ``offset``. With ``order`` other than
``pubdate`` the search is ranked, so it remembers ids instead (see
:mod:`collectors.incremental`).

Risk control: ``code`` -352 / -412 / -799 / -509, HTTP 412, or ``data.v_voucher`` (a
rejected signature) raise :class:`RiskControlError`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from collectors import wbi
from collectors.base import CollectorContext
from collectors.bilibili_parse import (
    api_data,
    check_response,
    parse_dynamics_page,
    parse_search_page,
    parse_view_detail,
)
from collectors.bios import BioFeedCollector, with_bio
from collectors.http import HttpSourceSettings, RiskControlError, ShapeError, client_from
from collectors.incremental import Feed, FeedPage
from collectors.parsing import as_text, dig, load_json
from collectors.registry import register
from pipeline.models import Post

DEFAULT_BASE_URL = "https://api.bilibili.com"
SEARCH_PATH = "/x/web-interface/wbi/search/type"
DETAIL_PATH = "/x/web-interface/view/detail"
DYNAMICS_PATH = "/x/polymer/web-dynamic/v1/feed/space"
NAV_PATH = "/x/web-interface/nav"
SPI_PATH = "/x/frontend/finger/spi"
CARD_PATH = "/x/web-interface/card"
GONE_CODES = frozenset({-404, -626})
CLOSED_ACCOUNT_NAME = "账号已注销"
WBI_KEYS_MAX_AGE_SECONDS = 6 * 3600
_BIO_CACHE_SIZE = 10_000


class BilibiliSourceSettings(HttpSourceSettings, tag="bilibili"):
    keywords: list[str] = msgspec.field(default_factory=list)
    # Users whose dynamics (space feed) to follow, by mid.
    mids: list[str] = msgspec.field(default_factory=list)
    order: str = "pubdate"
    max_pages: int = 3
    # Fetch the video detail once per new author for the bio (data.Card.card.sign).
    author_bios: bool = True


# -- collector ---------------------------------------------------------------------------


class BilibiliCollector(BioFeedCollector):
    def __init__(self, settings: BilibiliSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        self._client = client_from(context, settings, DEFAULT_BASE_URL)
        self._client.headers.setdefault("Referer", "https://www.bilibili.com/")
        self._keys: tuple[str, str] | None = None
        self._keys_at = 0.0
        self._guest_ready = "cookie" in self._client.headers
        self._bios: dict[str, str | None] = {}

    def feeds(self) -> list[Feed]:
        ordered = self._settings.order == "pubdate"
        searches = [
            Feed(f"q:{word}", ordered=ordered, params={"keyword": word})
            for word in self._settings.keywords
        ]
        return searches + [Feed(f"m:{mid}", params={"mid": mid}) for mid in self._settings.mids]

    async def _get(self, path: str, query: str) -> httpx.Response:
        response = await self._client.get(f"{path}?{query}")
        check_response(response)
        return response

    async def _guest(self) -> None:
        """Guest cookies (``buvid3``/``buvid4``) as the site gives every visitor."""
        if self._guest_ready:
            return
        response = await self._get(SPI_PATH, "")
        data = api_data(response.content, "finger/spi")
        for name, field in (("buvid3", "b_3"), ("buvid4", "b_4")):
            value = as_text(data.get(field))
            if value:
                self._client.cookies.set(name, value)
        self._guest_ready = True

    async def _signed(self, path: str, params: dict[str, Any]) -> httpx.Response:
        await self._guest()
        if self._keys is None or time.monotonic() - self._keys_at > WBI_KEYS_MAX_AGE_SECONDS:
            response = await self._client.get(NAV_PATH)
            check_response(response)
            try:
                self._keys = wbi.keys_from_nav(load_json(response.content))
            except wbi.WbiKeyError as exc:
                raise ShapeError(f"bilibili nav: {exc}", response.content) from None
            self._keys_at = time.monotonic()
        return await self._get(path, wbi.signed_query(params, *self._keys))

    def _options(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "now": datetime.now(UTC),
            "max_text_chars": self._context.max_text_chars,
        }

    async def _page(self, feed: Feed, cursor: str | None) -> FeedPage:
        if "keyword" in feed.params:
            path, parse = SEARCH_PATH, parse_search_page
            params = {
                "search_type": "video",
                "keyword": feed.params["keyword"],
                "order": self._settings.order,
                "page": cursor or "1",
            }
        else:
            path, parse = DYNAMICS_PATH, parse_dynamics_page
            params = {
                "host_mid": feed.params["mid"],
                "offset": cursor or "",
                "features": "itemOpusStyle",
            }
        response = await self._signed(path, params)
        try:
            return parse(response.content, **self._options())
        except RiskControlError:
            # The keys rotate daily: the run after the cool-down signs with fresh ones.
            self._keys = None
            raise

    async def _bio(self, post: Post) -> str | None:
        if post.author_id not in self._bios:
            response = await self._get(DETAIL_PATH, f"bvid={quote(post.post_id, safe='')}")
            detailed, _ = parse_view_detail(response.content, **self._options())
            if len(self._bios) >= _BIO_CACHE_SIZE:
                self._bios.pop(next(iter(self._bios)))
            self._bios[post.author_id or ""] = detailed[0].author_bio
        return self._bios[post.author_id or ""]

    async def _enrich(self, posts: list[Post]) -> list[Post]:
        if not self._settings.author_bios:
            return posts
        enriched = []
        for post in posts:
            if post.author_id and post.author_bio is None and post.post_id.startswith("BV"):
                post = await with_bio(post, lambda post=post: self._bio(post))
            enriched.append(post)
        return enriched

    async def check_account(self, platform: str, account_id: str) -> bool | None:
        """For the recheck job: True when Bilibili says the user is gone (code -404 /
        -626, or the card of a closed account), False when the card answers, None when
        it cannot tell (risk control, odd answer)."""
        if platform != "bilibili" or not account_id.isdigit():
            return None
        try:
            response = await self._client.get(f"{CARD_PATH}?mid={account_id}")
            check_response(response)
            decoded = load_json(response.content)
        except (RiskControlError, ShapeError, httpx.HTTPError):
            return None
        code = decoded.get("code") if isinstance(decoded, dict) else None
        if isinstance(code, int) and code in GONE_CODES:
            return True
        if code == 0 and isinstance(dig(decoded, "data", "card"), dict):
            return dig(decoded, "data", "card", "name") == CLOSED_ACCOUNT_NAME
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


register(BilibiliSourceSettings, BilibiliCollector)
