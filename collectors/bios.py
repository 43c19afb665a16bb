"""Authors' bios for feed collectors whose posts don't carry them (Bilibili, Weibo).

Contacts moved to the bio are how ads dodge filters, so the detector wants the bio; but a
bio is a bonus: a failed lookup must never cost the post. Bios are looked up at most once
per author per run (they change, so not forever).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec

from collectors.base import Page
from collectors.http import ShapeError
from collectors.incremental import Feed, FeedPage, crawl
from pipeline.models import Post


async def with_bio(post: Post, lookup: Callable[[], Awaitable[str | None]]) -> Post:
    try:
        bio = await lookup()
    except ShapeError:
        return post
    return msgspec.structs.replace(post, author_bio=bio) if bio else post


class BioFeedCollector:
    """``fetch`` for collectors that crawl feeds and fill in bios: subclasses provide
    ``name``, ``_settings.max_pages``, ``feeds()``, ``_page()`` and ``_enrich()``."""

    name: str
    _settings: Any
    _bios: dict[str, str | None]

    def feeds(self) -> list[Feed]:
        raise NotImplementedError

    async def _page(self, feed: Feed, cursor: str | None) -> FeedPage:
        raise NotImplementedError

    async def _enrich(self, posts: list[Post]) -> list[Post]:
        raise NotImplementedError

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        self._bios.clear()
        async for page in crawl(
            self.feeds(),
            cursor,
            source=self.name,
            fetch=self._page,
            max_pages=self._settings.max_pages,
            enrich=self._enrich,
        ):
            yield page
