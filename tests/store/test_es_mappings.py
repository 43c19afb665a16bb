"""The Elasticsearch store's pure parts: settings, index naming, the template builder and
the compat media types (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch.helpers import BulkIndexError

from pipeline.models import SearchQuery
from pipeline.store.es_errors import StoreUnavailable, StoreWriteError, guard
from pipeline.store.es_mappings import (
    fixed_mappings,
    has_ik,
    month_index,
    posts_mappings,
    posts_template,
)
from pipeline.store.es_query import search_body
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import PlainJsonNode, make_client, plain_media_type


def _nodes(*plugin_lists: list[str]) -> dict[str, object]:
    return {
        "nodes": {
            f"n{i}": {"name": f"n{i}", "plugins": [{"name": p} for p in plugins]}
            for i, plugins in enumerate(plugin_lists)
        }
    }


def test_ik_is_used_only_when_every_node_has_it() -> None:
    assert has_ik(_nodes(["analysis-ik"], ["analysis-ik", "repository-s3"]))
    assert has_ik(_nodes(["opensearch-analysis-ik"]))
    assert not has_ik(_nodes(["analysis-ik"], ["repository-s3"]))
    assert not has_ik(_nodes([]))
    assert not has_ik({"nodes": {"osmem-node": {"name": "osmem-node"}}})  # no plugins key
    assert not has_ik({})


def test_template_uses_ik_when_present() -> None:
    text = posts_mappings(ik=True)["properties"]["text"]
    assert (text["analyzer"], text["search_analyzer"]) == ("ik_max_word", "ik_smart")
    assert text["fields"]["keyword"]["type"] == "keyword"
    assert posts_mappings(ik=True)["properties"]["search_text"]["analyzer"] == "radar_cjk"


def test_template_falls_back_to_cjk_without_ik() -> None:
    template = posts_template("radar", ik=False)
    assert template["index_patterns"] == ["radar-posts-*"]
    assert template["template"]["aliases"] == {"radar-posts": {}}
    text = template["template"]["mappings"]["properties"]["text"]
    assert text["analyzer"] == "cjk" and "search_analyzer" not in text
    assert "ik" not in str(template["template"]["settings"])
    search_text = template["template"]["mappings"]["properties"]["search_text"]
    assert search_text["analyzer"] == "radar_cjk"


def test_detector_hits_and_review_status_are_exact_fields() -> None:
    props = posts_mappings(ik=False)["properties"]
    for name in ("categories", "features", "contacts", "platform", "status", "key"):
        assert props[name] == {"type": "keyword"}, name
    assert props["flagged"]["type"] == "boolean"
    assert props["score"]["type"] == "double"
    assert props["posted_at"]["type"] == "date"
    assert props["post"] == {"type": "object", "enabled": False}


def test_fixed_indices_are_strict() -> None:
    for role in ("accounts", "reviews", "review-history", "checkpoints", "rejects"):
        assert fixed_mappings(role)["dynamic"] == "strict"
    assert fixed_mappings("accounts")["properties"]["contacts"] == {"type": "keyword"}
    with pytest.raises(ValueError):
        fixed_mappings("posts")


def test_month_index_follows_the_posts_own_utc_time() -> None:
    assert month_index("radar", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) == "radar-posts-2026.11"
    # 2026-12-01 07:00 in Beijing is still November in UTC.
    beijing = timezone(timedelta(hours=8))
    assert month_index("radar", datetime(2026, 12, 1, 7, tzinfo=beijing)) == "radar-posts-2026.11"
    assert month_index("radar", datetime(2026, 12, 1)) == "radar-posts-2026.12"  # naive = UTC
    assert month_index("x", None) == "x-posts-undated"


def test_vendor_media_types_become_plain() -> None:
    vendor = "application/vnd.elasticsearch+json; compatible-with=8"
    assert plain_media_type(vendor) == "application/json"
    ndjson = "application/vnd.elasticsearch+x-ndjson; compatible-with=8"
    assert plain_media_type(ndjson) == "application/x-ndjson"
    assert plain_media_type("application/json") == "application/json"


async def test_compat_setting_picks_the_node_class() -> None:
    es = make_client(ElasticsearchSettings(hosts=["http://127.0.0.1:9"], compat="opensearch"))
    plain = make_client(ElasticsearchSettings(hosts=["http://127.0.0.1:9"]))
    try:
        assert all(isinstance(n, PlainJsonNode) for n in es.transport.node_pool.all())
        assert not any(isinstance(n, PlainJsonNode) for n in plain.transport.node_pool.all())
    finally:
        await es.close()
        await plain.close()


def test_settings_decode_and_read_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = {"hosts": ["https://es:9200"], "username": "radar", "password_env": "ES_PW"}
    settings = msgspec.convert(raw, ElasticsearchSettings)
    assert settings.compat == "elasticsearch" and settings.index_prefix == "radar"
    monkeypatch.setenv("ES_PW", "s3cret")
    assert settings.password() == "s3cret"
    monkeypatch.delenv("ES_PW")
    with pytest.raises(ValueError, match="ES_PW"):
        settings.password()
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"hosts": ["x"], "pasword": "typo"}, ElasticsearchSettings)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"compat": "solr"}, ElasticsearchSettings)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"index_prefix": "Radar"}, ElasticsearchSettings)


def test_search_body_phrases_every_term_and_keeps_facets_independent() -> None:
    terms, body = search_body(SearchQuery(q="全额退保 VX 保", category="debt", platform="weibo"))
    assert body is not None and terms == ["全额退保", "vx", "保"]
    must = body["query"]["bool"]["must"]
    assert must == [
        {"match_phrase": {"search_text": {"query": "全额退保"}}},
        {"match_phrase": {"search_text": {"query": "vx"}}},
        {"match_phrase_prefix": {"search_text": {"query": "保"}}},
    ]
    # The category facet applies the platform filter but not its own, and vice versa.
    assert body["aggs"]["category"]["filter"] == {
        "bool": {"filter": [{"term": {"platform": "weibo"}}]}
    }
    assert body["aggs"]["platform"]["filter"] == {
        "bool": {"filter": [{"term": {"categories": "debt"}}]}
    }
    assert search_body(SearchQuery(q="，。！")) == ([], None)


def test_deep_pages_stay_inside_the_result_window() -> None:
    _, body = search_body(SearchQuery(page=501, page_size=20))
    assert body is not None and body["from_"] + body["size"] <= 10_000


def _bulk_error(*statuses: int) -> BulkIndexError:
    items = [{"index": {"_id": str(i), "status": s, "error": {}}} for i, s in enumerate(statuses)]
    return BulkIndexError(f"{len(items)} document(s) failed to index.", items)


def test_errors_a_retry_may_fix_are_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="unreachable"), guard("write_batch"):
        raise TransportConnectionError("connection refused")
    with pytest.raises(StoreUnavailable, match="overloaded"), guard("write_batch"):
        raise _bulk_error(429, 429)
    with pytest.raises(StoreWriteError, match="refused write_batch"), guard("write_batch"):
        raise _bulk_error(429, 400)  # a mapping conflict will fail the same way again
