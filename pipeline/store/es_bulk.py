"""Sending a batch's actions to ``_bulk``: chunked, several chunks in flight, items
refused with 429 sent again with backoff, and one verdict for the whole batch.

Each action is encoded once, to its own NDJSON lines (:func:`index_action`,
:func:`delete_action`, or :func:`encode_action` for a dict in the helpers' action
format), and each chunk goes out as one pre-joined ``bytes`` body through
``client.bulk``, which the NDJSON serializer passes through untouched.

Why not ``elasticsearch.helpers.async_bulk``: profiled on the write path, its
per-action machinery (async generators feeding the chunker, the expand callback, the
reply zipped back onto the actions item by item) cost more of the worker's CPU than
encoding the documents. Here an action is one ``bytes`` object from encoding to wire,
and a reply whose ``errors`` is false (the usual one) is not walked at all. What the
helper guaranteed is kept: chunks by count (``bulk_chunk``) and bytes, ``refresh``,
items refused with 429 sent again alone with doubling backoff (``retries`` times),
a whole request answered 429 sent again the same way, transport errors raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.helpers import BulkIndexError, expand_action

from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import FastJsonSerializer

# What is read of each item when ``errors`` is true: its status and error, and _index /
# _id so that a refusal names its document. With no error the reply is a short list of
# statuses, which is not read.
FILTER_PATH = "errors,items.*._index,items.*._id,items.*.status,items.*.error"
INITIAL_BACKOFF = 0.5  # seconds before an item refused with 429 is sent again, doubling
MAX_BACKOFF = 10.0
# Bytes per request at most (the helper's default); Elasticsearch refuses bodies over
# http.max_content_length (100 MB by default).
MAX_CHUNK_BYTES = 100 * 1024 * 1024
RETRY_STATUS = 429
_SIMPLE = frozenset({"_op_type", "_index", "_id", "_source"})
_encode = msgspec.json.Encoder().encode
_fallback = FastJsonSerializer()

# An action: a dict in the helpers' format, or already encoded NDJSON lines.
Action = dict[str, Any] | bytes


def encode_source(source: Any) -> bytes:
    """A document as JSON bytes: msgspec, or for what it refuses (a lone surrogate) the
    client's serializer, which writes what the stdlib serializer wrote."""
    try:
        return _encode(source)
    except (TypeError, ValueError, msgspec.EncodeError):  # UnicodeEncodeError included
        return _fallback.dumps(msgspec.to_builtins(source))


def index_action(index: str, doc_id: str, source: bytes) -> bytes:
    """An index action with its ``_source`` (JSON bytes) as NDJSON lines."""
    return b'{"index":{"_index":%b,"_id":%b}}\n%b\n' % (_encode(index), _encode(doc_id), source)


def delete_action(index: str, doc_id: str) -> bytes:
    return b'{"delete":{"_index":%b,"_id":%b}}\n' % (_encode(index), _encode(doc_id))


def expand_encoded(action: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """The helpers' ``expand_action``, encoded: ``(header line, source)`` as bytes
    (``source`` None for a delete). A ``bytes`` ``_source`` is used as is; anything richer
    than index / create / delete by id (routing, versions, updates) takes the helpers'
    own expansion first."""
    op = action.get("_op_type", "index")
    if action.keys() <= _SIMPLE and op in ("index", "create", "delete"):
        meta = {k: action[k] for k in ("_index", "_id") if k in action}
        header: dict[str, Any] = {op: meta}
        source = None if op == "delete" else action.get("_source", {})
    else:
        header, source = expand_action(action)
    if source is None or isinstance(source, bytes):
        return encode_source(header), source
    return encode_source(header), encode_source(source)


def encode_action(action: Action) -> bytes:
    """An action as its NDJSON lines (``bytes`` are taken as already encoded)."""
    if isinstance(action, bytes):
        return action
    header, source = expand_encoded(action)
    return header + b"\n" if source is None else b"%b\n%b\n" % (header, source)


def chunks(
    lines: Sequence[bytes], size: int, max_bytes: int = MAX_CHUNK_BYTES
) -> list[list[bytes]]:
    """Encoded actions in chunks of at most ``size`` actions and ``max_bytes`` bytes (an
    action larger than ``max_bytes`` goes alone)."""
    out: list[list[bytes]] = []
    chunk: list[bytes] = []
    used = 0
    for line in lines:
        if chunk and (len(chunk) >= size or used + len(line) > max_bytes):
            out.append(chunk)
            chunk, used = [], 0
        chunk.append(line)
        used += len(line)
    if chunk:
        out.append(chunk)
    return out


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (attempt - 1))


async def send_chunk(
    client: AsyncElasticsearch, lines: list[bytes], settings: ElasticsearchSettings
) -> list[dict[str, Any]]:
    """One chunk to ``_bulk``, items refused with 429 (or the whole request answered 429)
    sent again up to ``settings.retries`` times; returns the items that failed for good
    (``{op: {"_index", "_id", "status", "error"}}``), a delete of an absent document not
    among them. Transport errors and other refusals of the whole request raise."""
    failed: list[dict[str, Any]] = []
    for attempt in range(settings.retries + 1):
        if attempt:
            await asyncio.sleep(_backoff(attempt))
        try:
            resp = await client.bulk(
                operations=b"".join(lines),  # type: ignore[arg-type]  # passed through as is
                refresh=settings.refresh,
                filter_path=FILTER_PATH,
            )
        except ApiError as exc:
            if attempt == settings.retries or exc.status_code != RETRY_STATUS:
                raise
            continue
        body = resp.body
        if body.get("errors") is False:
            return failed
        again = _sort_items(lines, body.get("items") or [], failed, attempt < settings.retries)
        if not again:
            return failed
        lines = again
    return failed  # not reached: the last attempt retries nothing


def _sort_items(
    lines: list[bytes], items: list[dict[str, Any]], failed: list[dict[str, Any]], retry: bool
) -> list[bytes]:
    """Walk a reply with errors: record the failed items in ``failed``, return the
    actions to send again (refused with 429, while retries remain)."""
    if len(items) != len(lines):  # the reply cannot be matched to the actions
        raise BulkIndexError(
            f"_bulk answered {len(items)} item(s) for {len(lines)} action(s)", items
        )
    again: list[bytes] = []
    for line, item in zip(lines, items, strict=True):
        ((op, info),) = item.items()
        status = info.get("status", 500)
        if 200 <= status < 300 or (op == "delete" and status == 404):
            continue  # deleting a copy that is already gone is fine
        if status == RETRY_STATUS and retry:
            again.append(line)
        else:
            failed.append({op: info})
    return again


async def bulk_write(
    client: AsyncElasticsearch, actions: Sequence[Action], settings: ElasticsearchSettings
) -> None:
    """Send actions as ``_bulk`` chunks, several in flight at once; raise
    :class:`BulkIndexError` naming the documents refused for good.

    Concurrent chunks are safe because a batch holds one action per (index, _id): posts
    and accounts are de-duplicated, and a moved post's delete and index hit different
    indices. With ``refresh=wait_for`` concurrent chunks also wait for the *same* next
    refresh, so a batch costs about one refresh interval, not one per chunk.
    """
    pending = chunks([encode_action(a) for a in actions], settings.bulk_chunk)
    if not pending:
        return
    gate = asyncio.Semaphore(settings.bulk_concurrency)

    async def send(chunk: list[bytes]) -> list[dict[str, Any]]:
        async with gate:
            return await send_chunk(client, chunk, settings)

    # Every chunk runs to its end (none left writing behind the caller's back); the
    # first exception is then raised as if the chunks had been sent one by one.
    results = await asyncio.gather(*(send(c) for c in pending), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    # Any refusal (an index op's 404 included: auto-creation disabled) fails the batch.
    failed = [e for errors in results for e in errors]  # type: ignore[union-attr]
    if failed:
        named = ", ".join(_name(e) for e in failed[:5])
        raise BulkIndexError(f"{len(failed)} document(s) failed: {named}", failed)


def _name(error: dict[str, Any]) -> str:
    ((op, info),) = error.items()
    return f"{op} {info.get('_index', '?')}/{info.get('_id', '?')} ({info.get('status')})"
