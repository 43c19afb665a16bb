"""The bundled sample feed, played as a live source.

With no configuration ``radar run`` plays ``samples/feed.jsonl`` over about two minutes,
a slice per scheduler tick, so a new user watches the dashboard fill up. It is a real
collector (cursor = lines played, checkpointed like any other), which also makes it the
end-to-end test's source: stop mid-feed, restart, and it resumes where it left off.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import msgspec

from collectors.base import CollectorContext, Page, SourceSettings
from collectors.records import RecordError, post_from_record
from collectors.registry import register
from pipeline.models import Post, Reject


def bundled_feed_path() -> Path:
    return Path(str(resources.files("collectors") / "samples" / "feed.jsonl"))


class SampleSourceSettings(SourceSettings, tag="sample"):
    name: str = "sample"
    interval_seconds: float = 2.0
    duration_seconds: float = 120.0
    path: str | None = None


class SampleCollector:
    def __init__(self, settings: SampleSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context
        path = Path(settings.path) if settings.path else bundled_feed_path()
        self._lines = path.read_bytes().splitlines()
        self._path = path

    @property
    def per_tick(self) -> int:
        ticks = self._settings.duration_seconds / self._settings.interval_seconds
        return len(self._lines) if ticks <= 1 else max(1, math.ceil(len(self._lines) / ticks))

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        start = int(cursor or 0)
        end = min(len(self._lines), start + self.per_tick)
        if start >= end:
            return
        posts: list[Post] = []
        rejects: list[Reject] = []
        now = datetime.now(UTC)
        for index in range(start, end):
            location = f"{self._path.name}:{index + 1}"
            try:
                record = msgspec.json.decode(self._lines[index])
                posts.append(
                    post_from_record(
                        record,
                        source=self.name,
                        default_platform="sample",
                        tz=self._context.tz,
                        max_text_chars=self._context.max_text_chars,
                        collected_at=now,
                    )
                )
            except (RecordError, msgspec.DecodeError) as exc:
                rejects.append(Reject(source=self.name, location=location, reason=str(exc), at=now))
        yield Page(posts=posts, rejects=rejects, cursor=str(end))

    async def aclose(self) -> None:
        return None


register(SampleSourceSettings, SampleCollector)
