"""The store the settings name: SQLite (embedded default) or Elasticsearch (scale-out).

One function, so ``radar run``, ``radar search``, ``radar sources`` and the faust workers
always agree on where the data is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.store.base import Store

if TYPE_CHECKING:
    from pipeline.config import Settings


def open_store(settings: Settings) -> Store:
    if settings.store.kind == "elasticsearch":
        from pipeline.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore(settings.store.elasticsearch)
    from pipeline.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_file, writer=settings.store.sqlite_writer)


def store_missing(settings: Settings) -> str | None:
    """Why a read-only command has nothing to read, or None. Only an embedded store can be
    missing: an Elasticsearch cluster is answered by its own errors."""
    if settings.store.kind == "sqlite" and not settings.sqlite_file.exists():
        return f"{settings.sqlite_file}: no store yet (start with `radar run`)"
    return None
