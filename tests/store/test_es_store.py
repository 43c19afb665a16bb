"""What only the Elasticsearch store has: monthly indices, the template actually applied,
idempotent ``_id`` s, the compat media types on the wire, and riding out an outage.

Real osmem-server clones on loopback (see conftest); the outage goes through a small TCP
proxy this module controls, so the cluster keeps its data while it is "down".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import msgspec
import pytest
from aiohttp import web
from store_factories import ACCOUNTS, P1, P2, P5, POSTS, es_settings, scored

from pipeline.models import Review, ReviewStatus, SearchQuery, SourceState
from pipeline.store.elasticsearch import ElasticsearchStore, StoreUnavailable, StoreWriteError
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import make_client

pytestmark = pytest.mark.integration


@pytest.fixture
async def es(osmem_clone) -> AsyncIterator[ElasticsearchStore]:
    store = ElasticsearchStore(es_settings(osmem_clone.url))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _indices(store: ElasticsearchStore) -> dict[str, int]:
    """Monthly posts index → number of docs, straight from the cluster."""
    resp = await store.client.cat.indices(index=f"{store.prefix}-posts-*", format="json")
    return {row["index"]: int(row["docs.count"]) for row in resp.body if int(row["docs.count"])}


async def test_opening_without_ik_builds_the_cjk_template(es: ElasticsearchStore) -> None:
    assert es.ik is False  # osmem has no IK plugin
    await es.open()  # idempotent
    await es.write_batch([P1])
    mapping = await es.client.indices.get_mapping(index="radar-posts-2025.03")
    text = mapping["radar-posts-2025.03"]["mappings"]["properties"]["text"]
    assert text["analyzer"] == "cjk"
    props = mapping["radar-posts-2025.03"]["mappings"]["properties"]
    assert props["search_text"]["analyzer"] == "radar_cjk"
    aliases = await es.client.indices.get_alias(name="radar-posts")
    assert set(aliases.body) == {"radar-posts-2025.03"}


async def test_posts_go_to_the_month_of_their_own_time(es: ElasticsearchStore) -> None:
    april = scored("apr", "代理退保", created=datetime(2025, 4, 30, 23, 59, tzinfo=UTC))
    await es.write_batch([*POSTS, april])
    # P1-P4, P6 were created in March 2025; P5 has no created_at and was collected on
    # 2025-03-05; the April post stays in April however late it arrives.
    assert await _indices(es) == {"radar-posts-2025.03": 6, "radar-posts-2025.04": 1}
    assert await es.count_posts() == 7


async def test_rewrites_keep_one_document_per_post(es: ElasticsearchStore) -> None:
    checkpoint = SourceState(name="weibo-test", cursor="c1")
    for _ in range(3):
        await es.write_batch([P1, P1, P2], ACCOUNTS, [checkpoint])
    assert await _indices(es) == {"radar-posts-2025.03": 2}
    resp = await es.client.count(index="radar-accounts")
    assert resp["count"] == len(ACCOUNTS)
    assert (await es.client.count(index="radar-checkpoints"))["count"] == 1


async def test_a_post_whose_time_changes_month_moves_and_keeps_its_review(
    es: ElasticsearchStore,
) -> None:
    await es.write_batch([P1])
    await es.set_review(Review(target=P1.post.key, status=ReviewStatus.CONFIRMED))
    corrected = msgspec.structs.replace(
        P1, post=msgspec.structs.replace(P1.post, created_at=datetime(2025, 5, 2, tzinfo=UTC))
    )
    await es.write_batch([corrected])
    assert await _indices(es) == {"radar-posts-2025.05": 1}
    hit = await es.get_post(P1.post.key)
    assert hit is not None and hit.post.created_at == datetime(2025, 5, 2, tzinfo=UTC)
    assert hit.status == ReviewStatus.CONFIRMED


async def test_redelivered_posts_keep_their_review_status(store) -> None:  # both stores
    await store.write_batch([P1, P5])
    await store.set_review(Review(target=P1.post.key, status=ReviewStatus.TAKEN_DOWN))
    await store.write_batch([P1, P5])
    hit = await store.get_post(P1.post.key)
    assert hit is not None and hit.status == ReviewStatus.TAKEN_DOWN
    found = await store.search(SearchQuery(status=ReviewStatus.TAKEN_DOWN))
    assert [h.post.key for h in found.results] == [P1.post.key]


# -- the compat media types on the wire --------------------------------------------------


@contextlib.asynccontextmanager
async def _recording_server(seen: list[dict[str, str]]) -> AsyncIterator[str]:
    """A loopback HTTP server that records each request's media type headers and answers
    like a (very small) cluster."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        seen.append(
            {
                "path": request.path,
                "accept": request.headers.get("Accept", ""),
                "content-type": request.headers.get("Content-Type", ""),
            }
        )
        body = {"took": 1, "errors": False, "items": []}
        if request.path == "/":
            body = {"version": {"number": "3.0.0", "distribution": "opensearch"}}
        return web.Response(text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_opensearch_compat_sends_plain_json() -> None:
    seen: list[dict[str, str]] = []
    async with _recording_server(seen) as url:
        client = make_client(ElasticsearchSettings(hosts=[url], compat="opensearch"))
        try:
            await client.info()
            await client.bulk(operations=[{"index": {"_index": "x", "_id": "1"}}, {"a": 1}])
        finally:
            await client.close()
    assert [s["accept"] for s in seen] == ["application/json", "application/json"]
    assert seen[1]["content-type"] == "application/x-ndjson"
    assert all("vnd.elasticsearch" not in s["accept"] + s["content-type"] for s in seen)


async def test_elasticsearch_default_sends_the_vendor_type() -> None:
    seen: list[dict[str, str]] = []
    async with _recording_server(seen) as url:
        client = make_client(ElasticsearchSettings(hosts=[url]))
        with contextlib.suppress(Exception):  # the stub is not Elasticsearch: product check
            await client.info()
        await client.close()
    assert seen and "compatible-with=8" in seen[0]["accept"]


# -- outage and recovery ------------------------------------------------------------------


class _Proxy:
    """A TCP proxy on a fixed loopback port that can be cut and restored: the cluster
    behind it keeps its data while clients see connection refused."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in self._writers:
            w.close()
        self._writers.clear()
        await asyncio.sleep(0.05)


async def test_cluster_down_raises_store_unavailable_then_recovers(osmem_clone) -> None:
    proxy = _Proxy(int(osmem_clone.url.rsplit(":", 1)[1]))
    await proxy.start()
    store = ElasticsearchStore(es_settings(f"http://127.0.0.1:{proxy.port}", request_timeout=2.0))
    try:
        await store.open()
        await store.write_batch([P1], [], [SourceState(name="s", cursor="c1")])

        await proxy.cut()
        with pytest.raises(StoreUnavailable, match="unreachable"):
            await store.write_batch([P2], [], [SourceState(name="s", cursor="c2")])
        with pytest.raises(StoreUnavailable):
            await store.search(SearchQuery())

        await proxy.start()  # the cluster is back; the same store object carries on
        await store.write_batch([P2], [], [SourceState(name="s", cursor="c2")])
        assert await store.count_posts() == 2
        checkpoint = await store.get_checkpoint("s")
        assert checkpoint is not None and checkpoint.cursor == "c2"
    finally:
        await store.close()
        await proxy.cut()


async def test_opening_with_the_cluster_down_raises_store_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    store = ElasticsearchStore(es_settings(f"http://127.0.0.1:{port}", request_timeout=2.0))
    try:
        with pytest.raises(StoreUnavailable):
            await store.open()
    finally:
        await store.close()


async def test_refused_posts_fail_the_batch_and_hold_its_checkpoint(es: ElasticsearchStore) -> None:
    # A month index someone created by hand with a conflicting mapping refuses P1.
    await es.client.indices.create(
        index="radar-posts-2025.03", mappings={"properties": {"flagged": {"type": "date"}}}
    )
    with pytest.raises(StoreWriteError, match="refused write_batch"):
        await es.write_batch([P1], [], [SourceState(name="s", cursor="c9")])
    assert await es.get_checkpoint("s") is None


async def test_small_concurrent_chunks_write_the_whole_batch(osmem_clone) -> None:
    store = ElasticsearchStore(es_settings(osmem_clone.url, bulk_chunk=4, bulk_concurrency=3))
    await store.open()
    try:
        march = [
            scored(f"m{i:02d}", f"代理退保{i}", created=datetime(2025, 3, 9, tzinfo=UTC))
            for i in range(25)
        ]
        await store.write_batch(march, ACCOUNTS)
        # Move every other post to June: 13 deletes and 25 index actions in 10 chunks.
        june = datetime(2025, 6, 1, tzinfo=UTC)
        moved = [
            msgspec.structs.replace(s, post=msgspec.structs.replace(s.post, created_at=june))
            if i % 2 == 0
            else s
            for i, s in enumerate(march)
        ]
        await store.write_batch(moved, ACCOUNTS, [SourceState(name="s", cursor="c1")])
        assert await _indices(store) == {"radar-posts-2025.03": 12, "radar-posts-2025.06": 13}
        assert (await store.search(SearchQuery(q="代理退保", page_size=100))).total == 25
        assert len(await store.get_accounts([a.key for a in ACCOUNTS])) == len(ACCOUNTS)
    finally:
        await store.close()


async def test_refresh_false_is_durable_and_visible_after_a_refresh(osmem_clone) -> None:
    store = ElasticsearchStore(es_settings(osmem_clone.url, refresh="false"))
    await store.open()
    try:
        await store.write_batch(POSTS, ACCOUNTS)
        assert await store.get_account("weibo", "u1") == ACCOUNTS[0]  # GET is realtime
        await store.client.indices.refresh(index="radar-posts")
        assert await store.count_posts() == len(POSTS)
    finally:
        await store.close()


async def test_opening_adds_new_fields_to_an_accounts_index_of_an_older_version(
    osmem_clone,
) -> None:
    """An index created before the weak-link fields existed (``dynamic: strict``) gains
    them when a newer store opens, so accounts that keep templates can still be written."""
    from pipeline.store.es_mappings import fixed_index, fixed_mappings

    settings = es_settings(osmem_clone.url)
    old = fixed_mappings("accounts")
    old["properties"] = {
        k: v for k, v in old["properties"].items() if k not in ("weak_inputs", "template_scores")
    }
    client = make_client(settings)
    try:
        await client.indices.create(index=fixed_index("radar", "accounts"), mappings=old)
    finally:
        await client.close()
    store = ElasticsearchStore(settings)
    await store.open()
    try:
        mapping = await store.client.indices.get_mapping(index=fixed_index("radar", "accounts"))
        props = next(iter(mapping.body.values()))["mappings"]["properties"]
        assert {"weak_inputs", "template_scores"} <= props.keys()
        account = msgspec.structs.replace(
            ACCOUNTS[0], templates={"weibo:p1": "全额退保不成功不收费加微信"}
        )
        await store.write_batch([], [account])
        got = await store.get_accounts([account.key])
        assert got[account.key].templates == account.templates
    finally:
        await store.close()
