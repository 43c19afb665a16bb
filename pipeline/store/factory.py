"""The store the settings name: SQLite (embedded default) or Elasticsearch (scale-out).

One function, so ``radar run``, ``radar search``, ``radar sources`` and the faust workers
always agree on where the data is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.store.base import Store

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.store.sqlite_writer import WriterKind


def open_store(settings: Settings, *, worker: bool = False) -> Store:
    """``worker``: the store is a faust worker's (``radar worker``)."""
    if settings.store.kind == "elasticsearch":
        from pipeline.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore(settings.store.elasticsearch)
    from pipeline.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_file, writer=sqlite_writer(settings, worker=worker))


def sqlite_writer(settings: Settings, *, worker: bool) -> WriterKind:
    """Where the SQLite writer runs; ``"auto"`` chooses by who writes.

    A faust worker gets a process: its event loop is busy with detection, faust and
    Kafka, so a writer thread's Python (binding, the commit's hand-overs) competed
    for the GIL, and a worker on a writer process moved ~20-50% more posts end to end
    (``bench/README.md``). Everything else gets a thread: the embedded runner measured
    no faster with a process, and commands write little.
    """
    kind = settings.store.sqlite_writer
    if kind == "auto":
        return "process" if worker else "thread"
    return kind


def store_missing(settings: Settings) -> str | None:
    """Why a read-only command has nothing to read, or None. Only an embedded store can be
    missing: an Elasticsearch cluster is answered by its own errors."""
    if settings.store.kind == "sqlite" and not settings.sqlite_file.exists():
        return f"{settings.sqlite_file}: no store yet (start with `radar run`)"
    return None
