"""The collector protocol: what every source kind implements, and nothing more.

A collector only says how to get posts after a cursor (Scrapy's spider, not its
downloader): it never writes to the store, never detects, never schedules. The runner
pushes each page's posts downstream and then a checkpoint for the page's cursor, which
the store commits in the same transaction as the posts, so a cursor never runs ahead of
the posts it covers and a crash re-reads at most one page (idempotent upserts absorb it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import msgspec

from pipeline.models import MAX_TEXT_CHARS, Post, Reject

if TYPE_CHECKING:
    import httpx

    from collectors.http import HttpSourceSettings


class SourceSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    """Options every source kind shares; each kind subclasses it with ``tag="<kind>"``."""

    name: str
    enabled: bool = True
    # Interval trigger unless ``cron`` (crontab syntax, in the settings' timezone) is set.
    interval_seconds: float = 60.0
    cron: str | None = None
    jitter_seconds: float = 0.0
    misfire_grace_seconds: float = 60.0


class Page(msgspec.Struct, kw_only=True):
    """One unit of progress: posts, records that could not become posts, and the cursor
    that is safe to resume from once these posts are durable."""

    posts: list[Post]
    rejects: list[Reject] = msgspec.field(default_factory=list)
    cursor: str | None = None


@dataclass(frozen=True)
class CollectorContext:
    """What the runner lends collectors (never the store or the detector)."""

    tz: ZoneInfo
    max_text_chars: int = MAX_TEXT_CHARS
    # The HTTP client factory (settings, default base url); None = the shared
    # ``collectors.http.build_client``. Tests inject clients with any transport here.
    client_for: Callable[[HttpSourceSettings, str], httpx.AsyncClient] | None = None


class Collector(Protocol):
    name: str

    def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Pages of posts newer than ``cursor``; the last page's cursor is the next one."""
        ...

    async def aclose(self) -> None: ...
