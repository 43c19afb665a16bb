"""Search parameter parsing shared by the API, the page and ``radar search``."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from dashboards.params import ParamError, parse_search_params, search_link
from pipeline.models import ReviewStatus, SearchQuery


def test_empty_mapping_gives_default_query() -> None:
    assert parse_search_params({}) == SearchQuery()


def test_empty_values_mean_no_filter() -> None:
    query = parse_search_params(
        {"q": "  ", "category": "", "since": "", "min_score": "", "status": "", "page": ""}
    )
    assert query == SearchQuery()


def test_all_filters_parse() -> None:
    query = parse_search_params(
        {
            "q": " 全额退保 ",
            "category": "surrender",
            "platform": "weibo",
            "min_score": "0.5",
            "status": "confirmed",
            "flagged_only": "0",
            "page": "3",
            "page_size": "50",
            "unknown": "ignored",
        }
    )
    assert query.q == "全额退保"
    assert query.category == "surrender"
    assert query.platform == "weibo"
    assert query.min_score == 0.5
    assert query.status is ReviewStatus.CONFIRMED
    assert query.flagged_only is False
    assert (query.page, query.page_size) == (3, 50)


def test_date_means_shanghai_midnight_and_until_covers_the_day() -> None:
    query = parse_search_params({"since": "2024-05-01", "until": "2024-05-01"})
    assert query.since == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    assert query.until == datetime(2024, 5, 1, 16, 0, tzinfo=UTC)


def test_iso_datetimes_keep_offset_and_naive_is_shanghai() -> None:
    assert parse_search_params({"since": "2024-05-01T08:00:00Z"}).since == datetime(
        2024, 5, 1, 8, 0, tzinfo=UTC
    )
    assert parse_search_params({"since": "2024-05-01T08:00:00+08:00"}).since == datetime(
        2024, 5, 1, 0, 0, tzinfo=UTC
    )
    assert parse_search_params({"since": "2024-05-01T08:00"}).since == datetime(
        2024, 5, 1, 0, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"min_score": "abc"}, "min_score"),
        ({"min_score": "0,8"}, "min_score"),
        ({"min_score": "nan"}, "min_score"),
        ({"min_score": "1.5"}, "min_score"),
        ({"min_score": "-0.1"}, "min_score"),
        ({"since": "2024-13-01"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2024/05/01"}, "until"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "until"),
        ({"category": "debts"}, "category"),
        ({"status": "approved"}, "status"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"flagged_only": "maybe"}, "flagged_only"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_values_name_the_parameter(params: dict[str, str], bad: str) -> None:
    with pytest.raises(ParamError) as info:
        parse_search_params(params)
    assert info.value.param == bad
    assert info.value.message


def test_search_link_keeps_filters_changes_some_and_encodes() -> None:
    raw = {"q": "退保 & 加V", "category": "debt", "page": "2", "page_size": ""}
    link = search_link("/", raw, category="credit", page=None)
    parts = urlsplit(link)
    assert parts.path == "/"
    assert dict(parse_qsl(parts.query)) == {"q": "退保 & 加V", "category": "credit"}
    assert "%26" in parts.query  # the user's & is data, not a separator
    assert search_link("/", {}) == "/"
