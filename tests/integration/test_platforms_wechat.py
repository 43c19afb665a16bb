"""The wechat source against a loopback server serving article pages by URL."""

from __future__ import annotations

import pytest

from collectors.http import RiskControlError
from collectors.wechat import WechatCollector, WechatSourceSettings
from tests.integration.platform_replay import FAST, Answer, Request, context, fixture, replay, run

pytestmark = pytest.mark.integration

HTML = "text/html; charset=utf-8"


def article(number: int) -> bytes:
    page = fixture("wechat", "article.html").decode()
    page = page.replace('var mid = "2247483650"', f'var mid = "22474836{number:02d}"')
    page = page.replace("很多朋友问", f"第{number}篇：很多朋友问")
    return page.encode()


class Wechat:
    def __init__(self) -> None:
        self.faults: dict[str, list[Answer]] = {}

    def __call__(self, request: Request) -> Answer:
        if self.faults.get(request.path):
            return self.faults[request.path].pop(0)
        if request.path == "/s/deleted":
            return Answer(body=fixture("wechat", "deleted.html"), content_type=HTML)
        if request.path.startswith("/s/a"):
            return Answer(body=article(int(request.path[4:])), content_type=HTML)
        if request.path == "/s" and request.params.get("mid"):
            return Answer(body=article(int(request.params["mid"][-2:])), content_type=HTML)
        return Answer(404, b"<html>404</html>", HTML)


def url(name: str) -> str:
    return f"https://mp.weixin.qq.com/s/{name}"


def collector(server, **options) -> WechatCollector:
    settings = WechatSourceSettings(name="wx", base_url=server.url, **{**FAST, **options})
    return WechatCollector(settings, context())


def mids(posts) -> list[str]:
    return [post.post_id.split(":")[1][-2:] for post in posts]


async def test_url_list_fetched_once_with_rejects_and_a_restart_between_pages():
    urls = [url("a01"), url("deleted"), url("a02"), "https://evil.example/s/a03", url("a04")]
    with replay(Wechat()) as server:
        first = await run(collector(server, urls=urls, page_size=2), None, max_pages=1)
        assert mids(first.posts) == ["01"]
        assert [r.reason for r in first.rejects] == ["article gone: 该内容已被发布者删除"]
        rest = await run(collector(server, urls=urls, page_size=2), first.cursor)
        assert rest.error is None
        assert mids(rest.posts) == ["02", "04"]
        assert [r.reason for r in rest.rejects] == ["not a mp.weixin.qq.com article URL"]
        assert all(r.path != "/s/a03" for r in server.requests)  # never left the platform
        again = await run(collector(server, urls=urls), rest.cursor)
        assert again.posts == [] and again.rejects == []
        assert len(server.requests) == 4


async def test_url_file_is_tailed_and_verification_page_stops_the_run(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text(f"# 待查文章\n{url('a01')}\n\n{url('a02')}\n", "utf-8")
    site = Wechat()
    site.faults["/s/a02"] = [Answer(body=fixture("wechat", "verify.html"), content_type=HTML)]
    with replay(site) as server:
        first = await run(collector(server, url_file=str(path)), None)
        assert isinstance(first.error, RiskControlError)
        assert mids(first.posts) == ["01"]  # handed on before the verification page
        second = await run(collector(server, url_file=str(path)), first.cursor)
        assert mids(second.posts) == ["02"] and second.error is None
        long_query = (
            "https://mp.weixin.qq.com/s?__biz=MzA5OTAwMDAwMQ==&mid=2247483605&idx=1&sn=ab"
            "&chksm=1&scene=21&uin=MTIzNDU2&key=0123456789abcdef&pass_ticket=tick%3D"
        )
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{long_query}\n{url('a06')}")  # the last line is still being written
        third = await run(collector(server, url_file=str(path)), second.cursor)
        assert mids(third.posts) == ["05"]
        # the reader's own parameters (uin, key, pass_ticket) are never sent nor stored
        assert (
            server.requests[-1].raw_query == "__biz=MzA5OTAwMDAwMQ%3D%3D&mid=2247483605&idx=1&sn=ab"
        )
        assert "key=" not in (third.posts[0].url or "")
        assert server.hits("/s/a01") == 1 and server.hits("/s/a02") == 2
