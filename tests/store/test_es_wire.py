"""The client's msgspec serializers and the store's own ``_bulk`` sender.

The serializers must read and write what the stdlib ones did (falling back to them for
what msgspec refuses) and be the ones used for every media type the client sends or
receives, in both compat modes. The sender must keep ``async_bulk``'s contract: the same
NDJSON lines, chunks by count and bytes, 429-rejected items sent again (only them),
a whole request answered 429 sent again, other refusals reported.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from elastic_transport import SerializationError
from elasticsearch.helpers import BulkIndexError
from elasticsearch.helpers.actions import expand_action
from elasticsearch.serializer import JsonSerializer
from store_factories import es_settings

from pipeline.store import es_bulk
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import (
    FastJsonSerializer,
    FastNdjsonSerializer,
    make_client,
)

# -- serializers ---------------------------------------------------------------------------


@pytest.mark.parametrize("compat", ["elasticsearch", "opensearch"])
async def test_fast_serializers_serve_every_media_type(compat: str) -> None:
    client = make_client(ElasticsearchSettings(hosts=["http://127.0.0.1:9"], compat=compat))  # type: ignore[arg-type]
    try:
        found = client.transport.serializers
        for media in (
            "application/json",
            "application/json; charset=UTF-8",
            "application/vnd.elasticsearch+json; compatible-with=8",
        ):
            assert isinstance(found.get_serializer(media), FastJsonSerializer), media
        for media in (
            "application/x-ndjson",
            "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        ):
            assert isinstance(found.get_serializer(media), FastNdjsonSerializer), media
    finally:
        await client.close()


def test_json_round_trip_matches_the_stdlib_serializer() -> None:
    fast, slow = FastJsonSerializer(), JsonSerializer()
    data = {
        "text": '全额退保 🙏 "q" \\ \u2028 \x00',
        "big": 2**70,
        "neg": -(2**65),
        "float": 0.1,
        "list": [1, None, True, {"nested": []}],
        "tuple": (1, 2),
        "day": date(2025, 3, 1),
        "uuid": uuid.UUID(int=7),
        "decimal": Decimal("1.25"),
    }
    assert fast.loads(fast.dumps(data)) == slow.loads(slow.dumps(data))
    # Datetimes stay ISO strings the server reads alike (UTC as "Z" instead of "+00:00").
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    assert fast.loads(fast.dumps({"at": when})) == {"at": "2025-03-01T12:30:00Z"}
    assert fast.loads(fast.dumps({"at": datetime(2025, 3, 1)})) == {"at": "2025-03-01T00:00:00"}
    # Bodies already encoded pass through.
    assert fast.dumps(b'{"a":1}') == b'{"a":1}' and fast.dumps('{"a":1}') == b'{"a":1}'


def test_json_falls_back_to_the_stdlib_for_what_msgspec_refuses() -> None:
    fast, slow = FastJsonSerializer(), JsonSerializer()
    lone = {"text": "a\udc80b"}  # a lone surrogate: stdlib writes it with surrogatepass
    assert fast.dumps(lone) == slow.dumps(lone)
    assert math.isnan(fast.loads(b'{"v":NaN}')["v"])  # not JSON, but json.loads reads it
    assert fast.loads(b"") is None
    assert fast.loads(b"123456789012345678901234567890") == 123456789012345678901234567890
    with pytest.raises(SerializationError):
        fast.dumps({"x": object()})
    with pytest.raises(SerializationError):
        fast.loads(b"{not json")


def test_ndjson_round_trip() -> None:
    fast = FastNdjsonSerializer()
    body = fast.dumps([{"index": {"_id": "1"}}, b'{"a":1}', '{"b":"二"}'])
    assert body == b'{"index":{"_id":"1"}}\n{"a":1}\n{"b":"\xe4\xba\x8c"}\n'
    assert fast.loads(body) == [{"index": {"_id": "1"}}, {"a": 1}, {"b": "二"}]


# -- the bulk sender ---------------------------------------------------------------------


_ACTIONS: list[dict[str, Any]] = [
    {"_op_type": "index", "_index": "i", "_id": "k1", "_source": b'{"a":"\xe4\xba\x8c"}'},
    {"_op_type": "index", "_index": "i", "_id": "k2", "_source": {"a": 1, "b": [None]}},
    {"_index": "i", "_id": "k3", "_source": {"a": 2}},  # index is the default op
    {"_op_type": "delete", "_index": "i", "_id": "k4"},
    {"_op_type": "create", "_index": "i", "_id": "k5", "_source": {"c": True}},
    {"_op_type": "index", "_index": "i", "_source": {"no": "id"}},
    {"_op_type": "index", "_index": "i", "_id": "k6", "routing": "r", "_source": {"d": 1}},
    {"_op_type": "update", "_index": "i", "_id": "k7", "doc": {"e": 1}},
    {"_index": "i", "_id": "k8", "field": "a document without _source"},
]


@pytest.mark.parametrize("action", _ACTIONS)
def test_actions_reach_the_helper_encoded_as_its_own_expansion(action: dict[str, Any]) -> None:
    dumps = FastJsonSerializer().dumps
    header, source = expand_action(action)
    encoded_header, encoded_source = es_bulk.expand_encoded(action)
    assert isinstance(encoded_header, bytes)
    assert json.loads(encoded_header) == json.loads(dumps(header))
    if source is None:
        assert encoded_source is None
    else:
        assert isinstance(encoded_source, bytes)
        assert json.loads(encoded_source) == json.loads(dumps(source))


Reply = Callable[[list[dict[str, Any]]], tuple[int, dict[str, Any]]]


@contextlib.asynccontextmanager
async def _bulk_server(
    replies: list[Reply], seen: list[list[dict[str, Any]]]
) -> AsyncIterator[str]:
    """A loopback ``_bulk`` endpoint: records each request's action headers and answers
    with the next scripted reply (then with success)."""

    async def handle(request: web.Request) -> web.Response:
        assert request.query.get("filter_path", "").startswith("errors,items")
        lines = [json.loads(line) for line in (await request.read()).splitlines()]
        headers = [line for line in lines if list(line) in (["index"], ["delete"])]
        seen.append(headers)
        status, body = (replies.pop(0) if replies else _all_ok)(headers)
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/_bulk", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


def _items(
    headers: list[dict[str, Any]], status: Callable[[str], int]
) -> tuple[int, dict[str, Any]]:
    items = []
    for header in headers:
        ((op, meta),) = header.items()
        items.append({op: {"_id": meta["_id"], "status": status(meta["_id"])}})
    return 200, {"errors": any(i[o]["status"] >= 300 for i in items for o in i), "items": items}


def _all_ok(headers: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    return _items(headers, lambda _: 201)


def _docs(*ids: str) -> list[dict[str, Any]]:
    return [{"_op_type": "index", "_index": "i", "_id": k, "_source": b'{"x":1}'} for k in ids]


async def _write(url: str, actions: list[dict[str, Any]], **overrides: Any) -> None:
    client = make_client(es_settings(url, retries=2, **overrides))
    try:
        await es_bulk.bulk_write(client, actions, es_settings(url, retries=2, **overrides))
    finally:
        await client.close()


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(es_bulk, "INITIAL_BACKOFF", 0.01)


async def test_items_rejected_with_429_are_sent_again_alone() -> None:
    seen: list[list[dict[str, Any]]] = []
    replies: list[Reply] = [lambda h: _items(h, lambda k: 429 if k in ("b", "d") else 201)]
    async with _bulk_server(replies, seen) as url:
        await _write(url, _docs("a", "b", "c", "d"))
    assert [[h["index"]["_id"] for h in request] for request in seen] == [
        ["a", "b", "c", "d"],
        ["b", "d"],
    ]


async def test_items_still_429_after_the_retries_fail_the_batch() -> None:
    seen: list[list[dict[str, Any]]] = []
    always: Reply = lambda h: _items(h, lambda k: 429)  # noqa: E731
    async with _bulk_server([always] * 3, seen) as url:
        with pytest.raises(BulkIndexError) as info:
            await _write(url, _docs("a"))
    assert len(seen) == 3  # the first try and settings.retries (2) more
    assert info.value.errors == [{"index": {"_id": "a", "status": 429}}]


async def test_a_refused_item_fails_the_batch_but_a_missing_delete_does_not() -> None:
    seen: list[list[dict[str, Any]]] = []
    refused: Reply = lambda h: _items(h, lambda k: {"bad": 400, "gone": 404}.get(k, 201))  # noqa: E731
    actions = [*_docs("ok"), {"_op_type": "delete", "_index": "i", "_id": "gone"}]
    async with _bulk_server([refused], seen) as url:
        await _write(url, actions)  # only the delete of an absent copy "failed"
    async with _bulk_server([refused], seen) as url:
        with pytest.raises(BulkIndexError) as info:
            await _write(url, [*actions, *_docs("bad")])
    assert info.value.errors == [{"index": {"_id": "bad", "status": 400}}]


async def test_a_whole_request_answered_429_is_sent_again() -> None:
    seen: list[list[dict[str, Any]]] = []
    busy: Reply = lambda h: (429, {"error": "busy", "status": 429})  # noqa: E731
    # The transport retries a 429 itself (retries=2: three tries), then bulk_write does.
    async with _bulk_server([busy] * 4, seen) as url:
        await _write(url, _docs("a", "b"))
    assert len(seen) == 5 and seen[-1] == seen[0]


async def test_chunks_are_sent_by_bulk_chunk() -> None:
    seen: list[list[dict[str, Any]]] = []
    async with _bulk_server([], seen) as url:
        await _write(url, _docs(*"abcdefg"), bulk_chunk=3, bulk_concurrency=2)
    assert sorted(len(request) for request in seen) == [1, 3, 3]
    assert sorted(h["index"]["_id"] for request in seen for h in request) == list("abcdefg")
