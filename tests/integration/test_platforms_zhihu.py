"""The zhihu source against a loopback server replaying the members API with offsets."""

from __future__ import annotations

import json

import pytest

from collectors.http import RiskControlError
from collectors.zhihu import ZhihuCollector, ZhihuSourceSettings
from tests.integration.platform_replay import FAST, Answer, Request, context, fixture, replay, run

pytestmark = pytest.mark.integration

TOKEN = "anxin-guihua"
ANSWERS = f"/api/v4/members/{TOKEN}/answers"
ARTICLES = f"/api/v4/members/{TOKEN}/articles"


def answer_item(number: int, created: int) -> dict:
    return {
        "id": 3300000000000000 + number,
        "type": "answer",
        "question": {"id": 600000000 + number, "title": f"问题{number}"},
        "author": {"url_token": TOKEN, "name": "安心规划师", "headline": "专注债务优化十年"},
        "created_time": created,
        "content": f"<p>回答{number}</p>",
        "voteup_count": number,
        "comment_count": 0,
    }


class Zhihu:
    """A member whose answers are served newest first, two per page, by offset; answers
    can be added on top between requests (which shifts every offset)."""

    def __init__(self, count: int = 5) -> None:
        self.answers = [answer_item(n, 1763000000 + n * 1000) for n in range(count, 0, -1)]
        self.faults: dict[str, list[Answer]] = {}
        self.limit = 2

    def add_newest(self) -> None:
        number = len(self.answers) + 1
        self.answers.insert(0, answer_item(number, 1763000000 + number * 1000))

    def __call__(self, request: Request) -> Answer:
        if request.path == ARTICLES:
            return Answer(body=fixture("zhihu", "articles_p1.json"))
        if request.path == f"/api/v4/members/{TOKEN}":
            return Answer(body=fixture("zhihu", "member.json"))
        if request.path != ANSWERS:
            return Answer(404, b'{"error": {"code": 404, "message": "not found"}}')
        offset = int(request.params.get("offset", "0"))
        if self.faults.get(str(offset)):
            return self.faults[str(offset)].pop(0)
        items = self.answers[offset : offset + self.limit]
        is_end = offset + self.limit >= len(self.answers)
        next_url = (
            f"https://www.zhihu.com{ANSWERS}?include=data%5B%2A%5D.content"
            f"&offset={offset + self.limit}&limit={self.limit}&sort_by=created"
        )
        body = {"paging": {"is_end": is_end, "next": next_url, "totals": len(self.answers)}}
        body["data"] = items
        return Answer(body=json.dumps(body, ensure_ascii=False).encode())


def collector(server, **options) -> ZhihuCollector:
    base = {"members": [TOKEN], "articles": False, **FAST}
    settings = ZhihuSourceSettings(name="zh", base_url=server.url, **{**base, **options})
    return ZhihuCollector(settings, context())


def numbers(posts) -> list[int]:
    return [int(post.post_id.split("/")[1]) - 3300000000000000 for post in posts]


async def test_restart_after_the_feed_shifted_neither_skips_nor_repeats():
    site = Zhihu()
    with replay(site) as server:
        first = await run(collector(server), None, max_pages=1)
        assert numbers(first.posts) == [5, 4]
        site.add_newest()  # answer 6 on top: offset 2 now starts at answer 4 again
        resumed = await run(collector(server), first.cursor)
        assert resumed.error is None
        assert numbers(resumed.posts) == [3, 2, 1]
        # the next crawl picks up the answer that arrived mid-crawl, and only it
        latest = await run(collector(server), resumed.cursor)
        assert numbers(latest.posts) == [6]
        assert server.hits(ANSWERS, offset="2") == 1  # only the resume: page 1 met the stop
        everything = first.posts + resumed.posts + latest.posts
        assert len({p.post_id for p in everything}) == len(everything) == 6
        assert everything[0].author_bio == "专注债务优化十年"


async def test_40362_mid_crawl_stops_and_resumes_from_the_same_page():
    site = Zhihu()
    site.faults["2"] = [Answer(403, fixture("zhihu", "risk_40362.json"))]
    with replay(site) as server:
        first = await run(collector(server), None)
        assert isinstance(first.error, RiskControlError) and first.error.status == 403
        assert numbers(first.posts) == [5, 4]
        second = await run(collector(server), first.cursor)
        assert numbers(second.posts) == [3, 2, 1]


async def test_challenge_page_is_risk_control():
    site = Zhihu()
    site.faults["0"] = [Answer(200, fixture("zhihu", "challenge.html"), "text/html")]
    with replay(site) as server:
        result = await run(collector(server), None)
        assert isinstance(result.error, RiskControlError)
        assert result.posts == [] and result.cursor is None


async def test_answers_and_articles_are_separate_feeds_in_one_cursor():
    with replay(Zhihu(count=1)) as server:
        result = await run(collector(server, articles=True), None)
        assert result.error is None
        assert [p.post_id for p in result.posts] == ["answer/3300000000000001", "article/700000001"]
        assert set(json.loads(result.cursor)) == {f"answers:{TOKEN}", f"articles:{TOKEN}"}


async def test_check_account_for_the_recheck_job():
    with replay(Zhihu()) as server:
        zhihu = collector(server)
        assert await zhihu.check_account("zhihu", TOKEN) is False  # still there
        assert await zhihu.check_account("zhihu", "gone-member") is True
        assert await zhihu.check_account("weibo", TOKEN) is None
        await zhihu.aclose()
