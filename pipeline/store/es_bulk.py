"""Sending a batch's actions to ``_bulk``: chunked, several chunks in flight, item
retries on 429, and one verdict for the whole batch."""

from __future__ import annotations

import asyncio
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import BulkIndexError, async_bulk

from pipeline.store.es_settings import ElasticsearchSettings


def _gone(item: dict[str, Any]) -> bool:
    return item.get("delete", {}).get("status") == 404


async def bulk_write(
    client: AsyncElasticsearch, actions: list[dict[str, Any]], settings: ElasticsearchSettings
) -> None:
    """Send actions as ``_bulk`` chunks, several in flight at once.

    Concurrent chunks are safe because a batch holds one action per (index, _id): posts
    and accounts are de-duplicated, and a moved post's delete and index hit different
    indices. With ``refresh=wait_for`` concurrent chunks also wait for the *same* next
    refresh, so a batch costs about one refresh interval, not one per chunk.
    """
    size = settings.bulk_chunk
    chunks = [actions[i : i + size] for i in range(0, len(actions), size)]
    if not chunks:
        return
    gate = asyncio.Semaphore(settings.bulk_concurrency)

    async def send(chunk: list[dict[str, Any]]) -> list[Any]:
        async with gate:
            _, errors = await async_bulk(
                client,
                chunk,
                chunk_size=size,
                max_retries=settings.retries,  # items rejected with 429, backoff
                initial_backoff=0.5,
                max_backoff=10,
                raise_on_error=False,
                refresh=settings.refresh,
            )
        return list(errors)  # type: ignore[arg-type]

    # Every chunk runs to its end (none left writing behind the caller's back); the
    # first exception is then raised as if the chunks had been sent one by one.
    results = await asyncio.gather(*(send(c) for c in chunks), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    # Deleting a copy that is already gone is fine; any other refusal (an index op's
    # 404 included: auto-creation disabled) must fail the batch, not vanish.
    failed = [e for errors in results for e in errors if not _gone(e)]  # type: ignore[union-attr]
    if failed:
        raise BulkIndexError(f"{len(failed)} document(s) failed", failed)
