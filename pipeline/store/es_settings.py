"""Settings of the Elasticsearch store (the ``[store.elasticsearch]`` table of radar.toml).

Secrets never live in the settings file: ``password_env`` and ``api_key_env`` name the
environment variables that hold them, so the file can be committed and a Kubernetes
Secret fills the variables. ``compat = "opensearch"`` is for servers that speak the
Elasticsearch REST API but refuse its vendor media type (OpenSearch, Easysearch, osmem in
tests); see :mod:`pipeline.store.es_transport`.
"""

from __future__ import annotations

import os
from typing import Literal

import msgspec


def _default_hosts() -> list[str]:
    return ["http://127.0.0.1:9200"]


class ElasticsearchSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    hosts: list[str] = msgspec.field(default_factory=_default_hosts)
    # "elasticsearch": the official client as shipped (ES 8 and 9 servers);
    # "opensearch": plain application/json headers, no product check.
    compat: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    username: str | None = None
    password_env: str | None = None  # name of the env var holding the password
    api_key_env: str | None = None  # name of the env var holding an encoded API key
    ca_certs: str | None = None
    verify_certs: bool = True
    # Index names: {prefix}-posts-YYYY.MM behind the alias {prefix}-posts, and
    # {prefix}-accounts / -reviews / -review-history / -checkpoints / -rejects.
    index_prefix: str = "radar"
    request_timeout: float = 30.0
    bulk_chunk: int = 500  # actions per _bulk request
    bulk_concurrency: int = 4  # _bulk requests of one batch in flight at once
    retries: int = 3  # per request (transport) and per 429-rejected bulk item
    # "wait_for": write_batch returns once its writes are visible to search (read after
    # write; the batch waits about one refresh_interval). "false": returns as soon as the
    # writes are durable (acknowledged = in the translog); search sees them within
    # refresh_interval. Either way nothing acknowledged is lost. (With "false", a post
    # re-delivered with a different month within refresh_interval of its first write can
    # leave its old copy behind until it is written again: the move looks copies up by
    # search.) "false" is the default because a worker writes one batch at a time per
    # partition: waiting for each refresh caps it at about a batch per refresh_interval
    # (500 posts/s per partition at ES's 1 s), whatever the cluster could take.
    refresh: Literal["wait_for", "false"] = "false"

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("store.elasticsearch.hosts must name at least one host")
        if not self.index_prefix or self.index_prefix != self.index_prefix.lower():
            raise ValueError("store.elasticsearch.index_prefix must be non-empty lower case")
        if self.bulk_chunk < 1 or self.bulk_concurrency < 1:
            raise ValueError("store.elasticsearch: bulk_chunk and bulk_concurrency must be >= 1")
        if self.retries < 0 or self.request_timeout <= 0:
            raise ValueError("store.elasticsearch: retries >= 0 and request_timeout > 0")

    def password(self) -> str | None:
        return _secret(self.password_env)

    def api_key(self) -> str | None:
        return _secret(self.api_key_env)


def _secret(env_name: str | None) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value is None:
        raise ValueError(f"store.elasticsearch: environment variable {env_name} is not set")
    return value
