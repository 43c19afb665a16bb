"""The Elasticsearch write path's cheap wire format keeps its meaning.

- Actions encoded straight to NDJSON bytes say what the helpers' action dicts said.
- Chunks are cut by count and by bytes; a reply that cannot be matched to its actions,
  a whole request refused for another reason than 429, and an unreachable server raise
  instead of passing silently; refusals name their documents.
- No response or request on the write path goes through the stdlib ``json`` module, in
  either compat mode.
- The lookups ask the server to trim their replies (``filter_path``,
  ``_source_includes``) and work the same when a server ignores that.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError
from elasticsearch.helpers import BulkIndexError
from elasticsearch.serializer import JsonSerializer
from store_factories import ACCOUNTS, P1, P2, P5, es_settings

from pipeline.models import Review, ReviewStatus, SourceState
from pipeline.store import es_bulk
from pipeline.store.elasticsearch import ElasticsearchStore
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import make_client

# -- encoding ----------------------------------------------------------------------------

_ODD_IDS = ["weibo:p1", 'quote"back\\slash', "全额退保\u2028🙏", "tab\tnl\n"]


@pytest.mark.parametrize("doc_id", _ODD_IDS)
def test_encoded_actions_match_the_dict_actions(doc_id: str) -> None:
    source = b'{"text":"\xe5\x85\xa8"}'
    as_dict = {"_op_type": "index", "_index": "radar-posts-2025.03", "_id": doc_id}
    assert es_bulk.index_action("radar-posts-2025.03", doc_id, source) == es_bulk.encode_action(
        {**as_dict, "_source": source}
    )
    assert es_bulk.delete_action("radar-posts-2025.03", doc_id) == es_bulk.encode_action(
        {**as_dict, "_op_type": "delete"}
    )
    header, body = es_bulk.index_action("i", doc_id, source).splitlines()
    assert json.loads(header) == {"index": {"_index": "i", "_id": doc_id}}
    assert body == source


def test_actions_already_encoded_pass_through() -> None:
    line = es_bulk.delete_action("i", "k")
    assert es_bulk.encode_action(line) is line
    # A dict source (checkpoints, rejects, rings) is encoded with msgspec.
    encoded = es_bulk.encode_action({"_index": "i", "_source": {"at": datetime(2025, 3, 1)}})
    assert encoded == b'{"index":{"_index":"i"}}\n{"at":"2025-03-01T00:00:00"}\n'


def test_a_lone_surrogate_in_a_dict_source_takes_the_stdlib_path() -> None:
    encoded = es_bulk.encode_action({"_index": "i", "_source": {"sample": "a\udc80"}})
    assert encoded == b'{"index":{"_index":"i"}}\n{"sample":"a\xed\xb2\x80"}\n'


def test_chunks_are_cut_by_count_and_by_bytes() -> None:
    lines = [b"x" * n for n in (3, 3, 3, 9, 1, 1)]
    assert es_bulk.chunks(lines, 2) == [lines[0:2], lines[2:4], lines[4:6]]
    assert (
        es_bulk.chunks(lines, 10, max_bytes=7)
        == [
            lines[0:2],
            lines[2:3],
            lines[3:4],  # larger than max_bytes: alone
            lines[4:6],
        ]
    )
    assert es_bulk.chunks([], 5) == []


# -- replies the sender must not take for success ---------------------------------------


@contextlib.asynccontextmanager
async def _replying(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    """A loopback ``_bulk`` that always gives the same answer; yields (url, bodies seen)."""
    seen: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(
            body=json.dumps(body).encode(),
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/"), seen


async def _write(url: str, actions: list[Any], **overrides: Any) -> None:
    settings = es_settings(url, retries=1, **overrides)
    client = make_client(settings)
    try:
        await es_bulk.bulk_write(client, actions, settings)
    finally:
        await client.close()


_TWO = [es_bulk.index_action("i", "a", b"{}"), es_bulk.index_action("i", "b", b"{}")]


async def test_a_reply_with_fewer_items_than_actions_raises() -> None:
    reply = {"errors": True, "items": [{"index": {"_id": "a", "status": 400}}]}
    async with _replying(200, reply) as (url, _):
        with pytest.raises(BulkIndexError, match="1 item"):
            await _write(url, _TWO)


async def test_refusals_name_their_documents() -> None:
    reply = {
        "errors": True,
        "items": [
            {"index": {"_index": "i", "_id": "a", "status": 201}},
            {"index": {"_index": "i", "_id": "b", "status": 400, "error": {"type": "x"}}},
        ],
    }
    async with _replying(200, reply) as (url, seen):
        with pytest.raises(BulkIndexError, match=r"index i/b \(400\)") as info:
            await _write(url, _TWO)
    assert len(seen) == 1  # a 400 is not retried
    assert info.value.errors == [{"index": reply["items"][1]["index"]}]


async def test_a_whole_request_refused_with_400_raises_at_once() -> None:
    async with _replying(400, {"error": "bad", "status": 400}) as (url, seen):
        with pytest.raises(ApiError) as info:
            await _write(url, _TWO)
    assert info.value.status_code == 400 and len(seen) == 1


async def test_an_unreachable_server_raises() -> None:
    async with _replying(200, {}) as (url, _):
        pass  # closed: nothing listens there any more
    with pytest.raises(TransportConnectionError):
        await _write(url, _TWO, request_timeout=2.0)


async def test_errors_false_is_success_whatever_the_items_say() -> None:
    """Elasticsearch does not count a delete of an absent document as an error; the
    sender trusts ``errors`` and does not walk the items then."""
    reply = {"errors": False, "items": [{"delete": {"_id": "a", "status": 404}}]}
    async with _replying(200, reply) as (url, seen):
        await _write(url, [es_bulk.delete_action("i", "a")])
    assert seen == [b'{"delete":{"_index":"i","_id":"a"}}\n']  # the body, byte for byte


# -- msgspec, not the stdlib json, in both compat modes -----------------------------------


@pytest.fixture
def no_stdlib_json(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the stdlib serializer's own JSON calls fail loudly (the msgspec serializers
    fall back to them only for what msgspec refuses)."""
    calls: list[str] = []

    def refuse(name: str):  # type: ignore[no-untyped-def]
        def call(self: Any, data: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"stdlib json.{name} on the write path: {data!r:.200}")

        return call

    monkeypatch.setattr(JsonSerializer, "json_loads", refuse("loads"))
    monkeypatch.setattr(JsonSerializer, "json_dumps", refuse("dumps"))
    return calls


async def test_the_write_path_never_uses_the_stdlib_json(osmem_clone, no_stdlib_json) -> None:
    store = ElasticsearchStore(es_settings(osmem_clone.url))
    await store.open()
    try:
        await store.write_batch([P1, P2, P5], ACCOUNTS, [SourceState(name="s", cursor="1")])
        await store.set_review(Review(target=P1.post.key, status=ReviewStatus.CONFIRMED))
        await store.write_batch([_moved(P1), P2], ACCOUNTS)
        hit = await store.get_post(P1.post.key)
    finally:
        await store.close()
    assert hit is not None and hit.status == ReviewStatus.CONFIRMED
    assert no_stdlib_json == []


async def test_vendor_media_type_replies_are_decoded_by_msgspec(no_stdlib_json) -> None:
    """compat = "elasticsearch": replies come as the vendor type (and a 429 item makes
    the sender walk and resend)."""
    replies = [
        {
            "errors": True,
            "items": [
                {"index": {"_id": "a", "status": 201}},
                {"index": {"_id": "b", "status": 429}},
            ],
        },
        {"errors": False, "items": [{"index": {"_id": "b", "status": 201}}]},
    ]
    seen: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(
            body=json.dumps(replies.pop(0)).encode(),
            headers={
                "Content-Type": "application/vnd.elasticsearch+json;compatible-with=8",
                "X-Elastic-Product": "Elasticsearch",
            },
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        settings = ElasticsearchSettings(hosts=[str(server.make_url("")).rstrip("/")], retries=1)
        client = make_client(settings)
        try:
            await es_bulk.bulk_write(client, _TWO, settings)
        finally:
            await client.close()
    assert seen == [b"".join(_TWO), _TWO[1]]
    assert no_stdlib_json == []


# -- lookups trimmed by the server, or not ----------------------------------------------


def _moved(scored: Any) -> Any:
    when = datetime(2025, 5, 2, tzinfo=UTC)
    return msgspec.structs.replace(
        scored, post=msgspec.structs.replace(scored.post, created_at=when)
    )


@contextlib.asynccontextmanager
async def _ignoring_filter_path(target: str, asked: list[str]) -> AsyncIterator[str]:
    """A loopback proxy to ``target`` that drops ``filter_path`` from every request (a
    server that ignores it), recording the values the client asked for."""

    async def handle(request: web.Request) -> web.Response:
        query = dict(request.query)
        if "filter_path" in query:
            asked.append(query.pop("filter_path"))
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                target + request.path,
                params=query,
                data=await request.read(),
                headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
            ) as upstream,
        ):
            body = await upstream.read()
            return web.Response(
                body=body,
                status=upstream.status,
                headers={"Content-Type": upstream.headers.get("Content-Type", "")},
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


@pytest.mark.parametrize("honoured", [True, False])
async def test_moves_and_review_statuses_whether_or_not_filter_path_is_honoured(
    osmem_clone, honoured: bool
) -> None:
    asked: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        url = osmem_clone.url
        if not honoured:
            url = await stack.enter_async_context(_ignoring_filter_path(url, asked))
        store = ElasticsearchStore(es_settings(url))
        await store.open()
        stack.push_async_callback(store.close)
        await store.write_batch([P1, P2, P5])
        await store.set_review(Review(target=P1.post.key, status=ReviewStatus.TAKEN_DOWN))
        await store.write_batch([_moved(P1), P2, P5])  # P1 moves to May, keeps its status
        await store.client.indices.refresh(index="radar-posts-*")
        counts = await store.client.cat.indices(index="radar-posts-*", format="json")
        hit = await store.get_post(P1.post.key)
    assert {r["index"]: int(r["docs.count"]) for r in counts.body if int(r["docs.count"])} == {
        "radar-posts-2025.03": 2,
        "radar-posts-2025.05": 1,
    }
    assert hit is not None and hit.status == ReviewStatus.TAKEN_DOWN
    assert hit.post == _moved(P1).post
    if not honoured:
        assert "hits.hits._id,hits.hits._index" in asked
        assert "docs._id,docs.found,docs._source.status" in asked
        assert es_bulk.FILTER_PATH in asked
