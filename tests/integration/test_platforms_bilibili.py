"""The bilibili source against a loopback server that checks WBI signatures and cookies."""

from __future__ import annotations

import hashlib
import json

import pytest

from collectors.bilibili import BilibiliCollector, BilibiliSourceSettings
from collectors.http import RiskControlError
from tests.integration.platform_replay import FAST, Answer, Request, context, fixture, replay, run

pytestmark = pytest.mark.integration

MIXIN = "ea1db124af3c7062474693fa704f4ff8"  # of the nav fixture's keys
SEARCH = "/x/web-interface/wbi/search/type"
DYNAMICS = "/x/polymer/web-dynamic/v1/feed/space"
MID = "3000000001"


def answer(name: str) -> Answer:
    return Answer(body=fixture("bilibili", name))


def detail_for(bvid: str) -> Answer:
    body = json.loads(fixture("bilibili", "view_detail.json"))
    body["data"]["View"]["bvid"] = bvid
    body["data"]["Card"]["card"]["sign"] = f"简介 of {bvid}"
    return Answer(body=json.dumps(body, ensure_ascii=False).encode())


class Bilibili:
    def __init__(self) -> None:
        self.faults: dict[tuple[str, str], list[Answer]] = {}
        self.bad_signatures = 0

    def signed(self, request: Request) -> bool:
        query, _, w_rid = request.raw_query.rpartition("&w_rid=")
        expected = hashlib.md5((query + MIXIN).encode()).hexdigest()
        ok = w_rid == expected and "wts=" in query
        self.bad_signatures += not ok
        return ok

    def __call__(self, request: Request) -> Answer:
        if request.path == "/x/frontend/finger/spi":
            return answer("spi.json")
        if request.path == "/x/web-interface/nav":
            return answer("nav.json")
        if request.path == "/x/web-interface/view/detail":
            return detail_for(request.params["bvid"])
        if request.path in (SEARCH, DYNAMICS):
            if not self.signed(request):
                return answer("voucher.json")
            if "buvid3=" not in request.headers.get("cookie", ""):
                return answer("risk_412.json")
        if request.path == SEARCH:
            number = request.params["page"]
            if self.faults.get((SEARCH, number)):
                return self.faults[(SEARCH, number)].pop(0)
            return answer("search_p1.json" if number == "1" else "search_p2.json")
        if request.path == DYNAMICS:
            offset = request.params.get("offset", "")
            if self.faults.get((DYNAMICS, offset)):
                return self.faults[(DYNAMICS, offset)].pop(0)
            return answer("dynamics_p1.json" if not offset else "dynamics_p2.json")
        return Answer(404, b'{"code": -404, "message": "\\u5565\\u90fd\\u6728\\u6709"}')


def collector(server, **options) -> BilibiliCollector:
    settings = BilibiliSourceSettings(name="bili", base_url=server.url, **{**FAST, **options})
    return BilibiliCollector(settings, context())


def ids(posts) -> list[str]:
    return [post.post_id for post in posts]


async def test_search_signs_with_guest_cookies_fetches_bios_once_per_author_and_resumes():
    site = Bilibili()
    with replay(site) as server:
        first = await run(collector(server, keywords=["全额退保"]), None, max_pages=1)
        assert first.error is None and site.bad_signatures == 0
        assert ids(first.posts) == ["BV1Ab411c7d3", "BV1Xy411z7w2"]
        assert [p.author_bio for p in first.posts] == [
            "简介 of BV1Ab411c7d3",
            "简介 of BV1Xy411z7w2",
        ]
        assert server.requests[0].path == "/x/frontend/finger/spi"
        resumed = await run(collector(server, keywords=["全额退保"]), first.cursor)
        assert resumed.error is None
        assert ids(resumed.posts) == ["BV1Qw411e7r1"]
        assert server.hits(SEARCH, page="1") == 1 and server.hits(SEARCH, page="2") == 1
        # The next crawl meets the checkpoint on page 1 and stops there.
        again = await run(collector(server, keywords=["全额退保"]), resumed.cursor)
        assert again.posts == [] and server.hits(SEARCH, page="2") == 1
        assert site.bad_signatures == 0


async def test_dynamics_pinned_first_then_minus_352_mid_crawl_then_resume():
    site = Bilibili()
    site.faults[(DYNAMICS, "1100000000000000300")] = [answer("risk_352.json")]
    with replay(site) as server:
        first = await run(collector(server, mids=[MID]), None)
        assert isinstance(first.error, RiskControlError)
        assert ids(first.posts) == [
            "1000000000000000001",  # the pinned one, handed on once
            "1100000000000000500",
            "1100000000000000300",
        ]
        assert server.hits(DYNAMICS, offset="1100000000000000300") == 1  # not retried
        second = await run(collector(server, mids=[MID]), first.cursor)
        assert second.error is None
        # a forward, the original it forwards (another author), and the oldest dynamic
        assert ids(second.posts) == [
            "1100000000000000200",
            "1090000000000000001",
            "1100000000000000100",
        ]
        # Next crawl: the old pinned dynamic comes first again and must not stop the crawl
        # early nor be handed on twice.
        third = await run(collector(server, mids=[MID]), second.cursor)
        assert third.posts == [] and third.error is None


async def test_http_412_is_risk_control():
    site = Bilibili()
    site.faults[(SEARCH, "1")] = [Answer(412, b"<html>412 Precondition Failed</html>", "text/html")]
    with replay(site) as server:
        result = await run(collector(server, keywords=["退保"]), None)
        assert isinstance(result.error, RiskControlError) and result.error.status == 412
        assert result.posts == [] and result.cursor is None


async def test_check_account_for_the_recheck_job():
    cards = {
        "3000000001": {"code": 0, "data": {"card": {"mid": "3000000001", "name": "退保小课堂"}}},
        "3000000002": {"code": 0, "data": {"card": {"mid": "3000000002", "name": "账号已注销"}}},
        "3000000003": {"code": -404, "message": "啥都木有", "data": None},
        "3000000004": {"code": -412, "message": "请求被拦截", "data": None},
    }

    def route(request: Request) -> Answer:
        card = cards[request.params["mid"]]
        return Answer(body=json.dumps(card, ensure_ascii=False).encode())

    with replay(route) as server:
        bili = collector(server)
        assert await bili.check_account("bilibili", "3000000001") is False
        assert await bili.check_account("bilibili", "3000000002") is True
        assert await bili.check_account("bilibili", "3000000003") is True
        assert await bili.check_account("bilibili", "3000000004") is None
        assert await bili.check_account("weibo", "3000000001") is None
        await bili.aclose()


async def test_risk_answer_drops_the_wbi_keys_so_the_next_run_fetches_fresh_ones():
    site = Bilibili()
    site.faults[(SEARCH, "1")] = [answer("risk_352.json")]
    with replay(site) as server:
        bili = collector(server, keywords=["退保"], author_bios=False)
        first = await run(bili, None, close=False)
        assert isinstance(first.error, RiskControlError)
        second = await run(bili, first.cursor)
        assert second.error is None and len(second.posts) == 3
        assert server.hits("/x/web-interface/nav") == 2
        assert server.hits("/x/frontend/finger/spi") == 1  # guest cookies are kept
