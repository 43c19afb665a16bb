"""The weibo source against a loopback server replaying m.weibo.cn page by page."""

from __future__ import annotations

import json

import pytest

from collectors.http import RiskControlError
from collectors.weibo import WeiboCollector, WeiboSourceSettings
from tests.integration.platform_replay import FAST, Answer, Request, context, fixture, replay, run

pytestmark = pytest.mark.integration

UID = "7000000001"
TIMELINE = f"107603{UID}"
PROFILE = f"100505{UID}"
PINNED = "5100000000000001"
LONG = "5230000000000200"
FIRST_CRAWL = [
    PINNED,
    "5230000000000500",
    "5230000000000400",
    "5230000000000300",
    "5230000000000200",
    "5230000000000150",
    "5230000000000100",
]


def page(name: str) -> Answer:
    return Answer(body=fixture("weibo", name))


def with_new_post_on_top() -> Answer:
    body = json.loads(fixture("weibo", "timeline_p1.json"))
    new = json.loads(json.dumps(body["data"]["cards"][1]))
    new["mblog"].update(id="5230000000000600", idstr="5230000000000600", text="新的一条")
    body["data"]["cards"].insert(1, new)
    return Answer(body=json.dumps(body, ensure_ascii=False).encode())


class Weibo:
    """m.weibo.cn as the tests script it: a timeline of three pages, a profile, faults."""

    def __init__(self) -> None:
        self.first_page = page("timeline_p1.json")
        self.faults: dict[str, list[Answer]] = {}  # since_id -> answers to give first

    def __call__(self, request: Request) -> Answer:
        if request.path == "/statuses/extend" and request.params.get("id") == LONG:
            return page("extend.json")
        if request.path != "/api/container/getIndex":
            return Answer(404, b"{}")
        containerid = request.params.get("containerid")
        if containerid == PROFILE:
            return page("profile.json")
        if containerid == TIMELINE:
            since = request.params.get("since_id", "")
            if self.faults.get(since):
                return self.faults[since].pop(0)
            return {
                "": self.first_page,
                "5230000000000300": page("timeline_p2.json"),
                "5230000000000100": page("timeline_p3.json"),
            }.get(since, page("timeline_end.json"))
        if containerid == "100103type=1&q=退保":
            number = request.params.get("page")
            return page("search_p1.json" if number == "1" else "search_p2.json")
        return page("timeline_end.json")


def collector(server, **options) -> WeiboCollector:
    settings = WeiboSourceSettings(name="wb", base_url=server.url, **{**FAST, **options})
    return WeiboCollector(settings, context())


def ids(posts) -> list[str]:
    return [post.post_id for post in posts]


async def test_restart_between_pages_then_next_crawl_stops_at_the_checkpoint():
    site = Weibo()
    with replay(site) as server:
        first = await run(collector(server, uids=[UID]), None, max_pages=1)  # "crash"
        assert first.error is None
        assert ids(first.posts) == FIRST_CRAWL[:3]
        resumed = await run(collector(server, uids=[UID]), first.cursor)
        assert resumed.error is None
        assert ids(resumed.posts) == FIRST_CRAWL[3:]
        assert (
            server.hits("/api/container/getIndex", containerid=TIMELINE, since_id="") == 1
        )  # page 1 once
        # p1, profile | p2, profile again (new run), the long text, p3
        assert len(server.requests) == 6
        assert resumed.posts[1].text.endswith("最后才写联系方式：VX anxin_2026")

        collected = first.posts + resumed.posts
        assert len(set(ids(collected))) == len(collected)
        bios = {post.author_bio for post in collected}
        assert bios == {"专注个性化分期协商 咨询 V：anxin_2026"}  # from the profile

        # The next crawl: one new post above an old pinned one; it must not stop at the
        # pinned post, and it stops at the checkpoint without fetching page 2.
        site.first_page = with_new_post_on_top()
        before = len(server.requests)
        latest = await run(collector(server, uids=[UID]), resumed.cursor)
        assert latest.error is None
        assert ids(latest.posts) == ["5230000000000600"]
        paths = [r.params.get("since_id") for r in server.requests[before:]]
        assert "5230000000000300" not in paths

        # And a run with nothing new hands on nothing.
        idle = await run(collector(server, uids=[UID]), latest.cursor)
        assert idle.posts == [] and idle.error is None


async def test_http_432_mid_crawl_stops_the_run_and_the_next_run_resumes_without_gaps():
    site = Weibo()
    site.faults["5230000000000300"] = [Answer(432, b"")]
    with replay(site) as server:
        first = await run(collector(server, uids=[UID], profiles=False), None)
        assert isinstance(first.error, RiskControlError) and first.error.status == 432
        assert ids(first.posts) == FIRST_CRAWL[:3]
        # 432 is risk control: asked once, never retried.
        assert server.hits("/api/container/getIndex", since_id="5230000000000300") == 1
        second = await run(collector(server, uids=[UID], profiles=False), first.cursor)
        assert second.error is None
        assert ids(second.posts) == FIRST_CRAWL[3:]
        assert (
            server.hits("/api/container/getIndex", containerid=TIMELINE, since_id="") == 1
        )  # page 1 once


async def test_ok_minus_100_is_risk_control_and_keeps_the_checkpoint():
    site = Weibo()
    site.faults["5230000000000300"] = [page("risk_ok.json")]
    with replay(site) as server:
        first = await run(collector(server, uids=[UID], profiles=False), None)
        assert isinstance(first.error, RiskControlError)
        second = await run(collector(server, uids=[UID], profiles=False), first.cursor)
        assert ids(first.posts + second.posts) == FIRST_CRAWL


@pytest.mark.parametrize(
    "fault",
    [
        Answer(
            200,
            b"<html><body>\xe7\xb3\xbb\xe7\xbb\x9f\xe7\xb9\x81\xe5\xbf\x99</body></html>",
            "text/html",
        ),
        Answer(200, b'{"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": {"id'),
        Answer(200, b'{"ok": 1, "data": {"cardlistInfo": {}}}'),
    ],
)
async def test_malformed_page_is_a_reject_and_the_checkpoint_is_not_lost(fault):
    site = Weibo()
    site.faults["5230000000000300"] = [fault]
    with replay(site) as server:
        first = await run(collector(server, uids=[UID], profiles=False), None)
        assert first.error is None  # never a crash
        assert len(first.rejects) == 1 and first.rejects[0].location == f"u:{UID}"
        assert ids(first.posts) == FIRST_CRAWL[:3]
        second = await run(collector(server, uids=[UID], profiles=False), first.cursor)
        assert ids(second.posts) == FIRST_CRAWL[3:]


async def test_keyword_search_pages_and_remembers_what_it_handed_on():
    with replay(Weibo()) as server:
        first = await run(collector(server, keywords=["退保"]), None)
        assert first.error is None
        assert ids(first.posts) == [
            "5230000000009001",
            "5230000000008000",
            "5230000000007000",
            "5230000000006000",
        ]
        assert [r.reason for r in first.rejects] == ["mblog without a numeric id"]
        assert first.posts[0].author_bio == "代理退保十年经验"
        again = await run(collector(server, keywords=["退保"]), first.cursor)
        assert again.posts == []  # page 1 has nothing new: stop there
        assert server.hits("/api/container/getIndex", page="2") == 1


async def test_check_account_for_the_recheck_job():
    def route(request: Request) -> Answer:
        containerid = request.params.get("containerid")
        if containerid == PROFILE:
            return page("profile.json")
        if containerid == "1005057000000002":
            return Answer(body='{"ok": 0, "msg": "用户不存在"}'.encode())
        return Answer(432, b"")

    with replay(route) as server:
        weibo = collector(server)
        assert await weibo.check_account("weibo", UID) is False
        assert await weibo.check_account("weibo", "7000000002") is True
        assert await weibo.check_account("weibo", "7000000003") is None  # 432: cannot tell
        assert await weibo.check_account("zhihu", UID) is None
        await weibo.aclose()
