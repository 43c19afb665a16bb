"""The Elasticsearch client, and the node class that lets it talk to OpenSearch-compatible
servers.

Why a node class: the official 8.x client rewrites every ``Accept`` / ``Content-Type`` to
``application/vnd.elasticsearch+json; compatible-with=8`` (so that ES 9 answers in the 8
format), and refuses any server whose 2xx responses lack ``X-Elastic-Product:
Elasticsearch``. OpenSearch, Easysearch and osmem (the test server) refuse the vendor
media type with 406/400. The transport's node is the last hop before the wire, so the
``compat = "opensearch"`` node puts back plain ``application/json`` (and
``application/x-ndjson`` for ``_bulk``) there, and marks responses as coming from a
compatible product. Everything above it (helpers, retries, serialisation) is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from elastic_transport import AiohttpHttpNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import JsonSerializer, NdjsonSerializer

from pipeline.store.es_settings import ElasticsearchSettings

_VENDOR = re.compile(r"application/vnd\.elasticsearch\+([\w.-]+)\s*(?:;\s*compatible-with=\d+)?")
_MEDIA_HEADERS = ("accept", "content-type")
# Statuses worth another try on the same request: overload and gateway trouble.
RETRY_STATUSES = (429, 502, 503, 504)


def plain_media_type(value: str) -> str:
    """``application/vnd.elasticsearch+json; compatible-with=8`` → ``application/json``."""
    return _VENDOR.sub(r"application/\1", value)


class PlainJsonNode(AiohttpHttpNode):
    """The aiohttp node, sending plain JSON media types (``compat = "opensearch"``)."""

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        **kwargs: Any,
    ) -> NodeApiResponse:
        if headers:
            headers = HttpHeaders(headers)
            for name in _MEDIA_HEADERS:
                if name in headers:
                    headers[name] = plain_media_type(headers[name])
        response = await super().perform_request(method, target, body, headers, **kwargs)
        # The client's product check wants this header on 2xx; compatible servers lack it.
        if "x-elastic-product" not in response.meta.headers:
            response.meta.headers["x-elastic-product"] = "Elasticsearch"
        return response


class _MsgspecJson:
    """msgspec in place of the stdlib ``json`` module, for :class:`FastJsonSerializer` and
    :class:`FastNdjsonSerializer`.

    Why: with stdlib ``json`` the client spent more CPU encoding bulk action lines and
    decoding responses (bulk items, mget, search hits) than the store spent on anything
    else. msgspec takes what ``json`` takes; the differences are harmless to the server
    (an aware UTC datetime is written ``…Z`` rather than ``…+00:00``, a ``Decimal`` as a
    number). Anything msgspec refuses (a lone surrogate, ``NaN`` in a response) goes
    through the stdlib path, so nothing that worked before fails now.
    """

    default: Any  # the serializer's: dates, UUIDs, numpy and pandas values

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=self.default, decimal_format="number")
        self._decode = msgspec.json.Decoder().decode

    def json_dumps(self, data: Any) -> bytes:
        try:
            return self._encoder.encode(data)
        except (TypeError, ValueError, msgspec.EncodeError):
            return super().json_dumps(data)  # type: ignore[misc,no-any-return]

    def json_loads(self, data: bytes) -> Any:
        try:
            return self._decode(data)
        except msgspec.DecodeError:
            return super().json_loads(data)  # type: ignore[misc]


class FastJsonSerializer(_MsgspecJson, JsonSerializer):
    """The client's JSON serializer, on msgspec."""


class FastNdjsonSerializer(_MsgspecJson, NdjsonSerializer):
    """The client's NDJSON (``_bulk``) serializer, on msgspec.

    A body that is already NDJSON bytes (what :mod:`pipeline.store.es_bulk` sends: a
    whole chunk, newline-terminated) goes out as it is; the stock serializer would copy
    it twice on its way through a ``bytearray``."""

    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes) and data.endswith(b"\n"):
            return data
        return super().dumps(data)  # type: ignore[no-any-return]


def fast_serializers() -> dict[str, Any]:
    """Serializers by media type. The client encodes requests for the media type it puts in
    ``Content-Type`` before :class:`PlainJsonNode` rewrites it, and decodes responses by
    the server's: vendor types in both compat modes, plain ones from OpenSearch-compatible
    servers, so both spellings are set."""
    json_, ndjson = FastJsonSerializer(), FastNdjsonSerializer()
    return {
        "application/json": json_,
        "application/vnd.elasticsearch+json": json_,
        "application/x-ndjson": ndjson,
        "application/vnd.elasticsearch+x-ndjson": ndjson,
    }


def make_client(settings: ElasticsearchSettings) -> AsyncElasticsearch:
    """An async client for the settings (transport-level retries on 429/5xx/timeouts)."""
    kwargs: dict[str, Any] = {
        "serializers": fast_serializers(),
        "request_timeout": settings.request_timeout,
        "max_retries": settings.retries,
        "retry_on_timeout": True,
        "retry_on_status": RETRY_STATUSES,
        "verify_certs": settings.verify_certs,
        "node_class": PlainJsonNode if settings.compat == "opensearch" else "aiohttp",
    }
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if settings.username:
        kwargs["basic_auth"] = (settings.username, settings.password() or "")
    api_key = settings.api_key()
    if api_key:
        kwargs["api_key"] = api_key
    return AsyncElasticsearch(list(settings.hosts), **kwargs)
