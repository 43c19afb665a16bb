"""WBI signing against the published test vector (bilibili-API-collect, wbi.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qsl

import msgspec
import pytest

from collectors.wbi import WbiKeyError, key_from_url, keys_from_nav, mixin_key, signed_query

IMG_KEY = "7cd084941338484aae1ad9425b84077c"
SUB_KEY = "4932caff0ff746eab6f01bf08b70ac45"
NAV = Path(__file__).parent / "fixtures" / "bilibili" / "nav.json"


def test_mixin_key_matches_the_documented_vector():
    assert mixin_key(IMG_KEY, SUB_KEY) == "ea1db124af3c7062474693fa704f4ff8"


def test_signed_query_matches_the_documented_w_rid():
    query = signed_query(
        {"foo": "114", "bar": "514", "zab": 1919810}, IMG_KEY, SUB_KEY, wts=1702204169
    )
    assert query == (
        "bar=514&foo=114&wts=1702204169&zab=1919810&w_rid=8f6f2b5b3d485fe1886cec6a0be8c5d4"
    )


def test_values_are_filtered_sorted_and_percent_encoded():
    query = signed_query({"keyword": "全额 退保!'()*", "a": "x"}, IMG_KEY, SUB_KEY, wts=1)
    body, _, w_rid = query.rpartition("&w_rid=")
    assert body == "a=x&keyword=%E5%85%A8%E9%A2%9D%20%E9%80%80%E4%BF%9D&wts=1"
    expected = hashlib.md5((body + "ea1db124af3c7062474693fa704f4ff8").encode()).hexdigest()
    assert w_rid == expected
    assert dict(parse_qsl(query))["keyword"] == "全额 退保"


def test_keys_come_from_the_nav_answer_even_when_logged_out():
    nav = msgspec.json.decode(NAV.read_bytes())
    assert keys_from_nav(nav) == (IMG_KEY, SUB_KEY)
    assert key_from_url("https://i0.hdslb.com/bfs/wbi/abc.png") == "abc"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None},
        {"data": {"wbi_img": {"img_url": 1}}},
        {"data": {"wbi_img": {"img_url": "a/b.png", "sub_url": "c/d.png"}}},
    ],
)
def test_bad_nav_answers_raise(body):
    with pytest.raises(WbiKeyError):
        keys_from_nav(body)
