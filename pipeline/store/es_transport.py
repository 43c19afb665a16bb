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

from elastic_transport import AiohttpHttpNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elasticsearch import AsyncElasticsearch

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


def make_client(settings: ElasticsearchSettings) -> AsyncElasticsearch:
    """An async client for the settings (transport-level retries on 429/5xx/timeouts)."""
    kwargs: dict[str, Any] = {
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
