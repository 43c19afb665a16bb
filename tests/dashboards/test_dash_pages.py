"""The HTML pages, requested in process: labels, highlights, escaping, errors."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx
from dash_fakes import FakeStore, scored


async def test_search_page_renders_zh_labels_and_results(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="zh-CN">' in html
    for label in ("代理退保", "债务优化/停息挂账", "征信修复", "代理投诉", "其他代理维权"):
        assert f">{label}</option>" in html
    assert '共 <b id="total">3</b> 条已标记帖子' in html
    assert "待审核" in html
    assert '<a class="author" href="/accounts/weibo/u1">退保小助手</a>' in html
    # 02:00 UTC is 10:00 in Shanghai.
    assert ">2024-05-01 10:00</time>" in html
    assert "<b>90%</b>" in html
    assert "提供全额退保代办服务并留私人联系方式" in html
    assert "<em>微信</em> <code>tb8888</code>" in html
    # Unflagged posts stay out by default.
    assert "排队好久" not in html


async def test_platform_select_lists_platforms_seen(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assert '<option value="douyin">douyin</option>' in html
    assert '<option value="weibo">weibo</option>' in html


async def test_evidence_and_query_are_marked(client: httpx.AsyncClient) -> None:
    html = (await client.get("/", params={"q": "成功率"})).text
    assert '<mark class="q">成功率</mark>' in html
    assert '<mark class="ev ev-surrender_phrase" title="surrender_phrase">全额退保</mark>' in html
    assert '<mark class="ev ev-contact-wechat" title="contact.wechat">tb8888</mark>' in html
    assert '<input type="search" name="q" value="成功率"' in html


async def test_hostile_text_renders_as_text(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert '<b onmouseover="alert(3)">' not in html
    assert "&lt;b onmouseover=&#34;alert(3)&#34;&gt;坏人&lt;/b&gt;" in html
    # A javascript: post URL is shown as text, never as a link.
    assert 'href="javascript:' not in html
    assert re.search(r'<span class="url-text"[^>]*>javascript:alert\(4\)</span>', html)
    # The only script is the static file.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/radar.js" defer>']


async def test_hostile_query_is_escaped_in_form_and_links(client: httpx.AsyncClient) -> None:
    evil = '"><script>alert(9)</script>'
    html = (await client.get("/", params={"q": evil})).text
    assert "<script>alert(9)" not in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(9)&lt;/script&gt;"' in html


async def test_post_links_are_noopener_nofollow(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assert (
        '<a href="https://weibo.example/p1" rel="noopener noreferrer nofollow" '
        'target="_blank">查看原帖</a>'
    ) in html


def _facet_links(html: str) -> dict[str, str]:
    found = re.findall(r'<a href="([^"]+)" data-facet="category" data-value="(\w+)">', html)
    return {value: unescape(href) for href, value in found}


async def test_category_facets_count_and_link_with_filters_kept(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/", params={"platform": "weibo", "page": "1"})).text
    assert re.search(r'data-value="surrender">代理退保</a>\s*<span class="n">2</span>', html)
    assert re.search(r'data-value="debt">债务优化/停息挂账</a>\s*<span class="n">0</span>', html)
    href = _facet_links(html)["surrender"]
    assert dict(parse_qsl(urlsplit(href).query)) == {"platform": "weibo", "category": "surrender"}


async def test_active_category_facet_links_back_to_all(client: httpx.AsyncClient) -> None:
    html = (await client.get("/", params={"category": "debt"})).text
    assert '共 <b id="total">1</b>' in html
    assert _facet_links(html)["debt"] == "/"
    assert '<option value="debt" selected>' in html


async def test_pagination_preserves_filters(store: FakeStore) -> None:
    from dashboards.app import create_app

    await store.write_batch(
        [scored(f"x{i}", f"全额退保 第{i}条", author_id="u5") for i in range(25)]
    )
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        first = (await c.get("/", params={"q": "全额退保", "page_size": "10"})).text
        assert "第 1 / 3 页" in first
        nxt = unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
        assert dict(parse_qsl(urlsplit(nxt).query)) == {
            "q": "全额退保",
            "page": "2",
            "page_size": "10",
        }
        second = (await c.get(nxt)).text
        assert "第 2 / 3 页" in second
        assert 'rel="prev"' in second
        assert second.count('<article class="hit') == 10
    assert store.queries[-1].page == 2


async def test_bad_param_on_page_is_422_in_zh(client: httpx.AsyncClient) -> None:
    r = await client.get("/", params={"min_score": "lots", "q": "退保"})
    assert r.status_code == 422
    assert "「最低分」参数有误" in r.text
    assert 'value="lots"' in r.text  # the form shows what was typed
    assert '<article class="hit' not in r.text


async def test_status_strip_shows_counts_and_runner(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assert '帖子 <b data-stat="posts">4</b>' in html
    assert '高风险账号 <b data-stat="flagged_accounts">3</b>' in html
    assert "队列 <b>3</b>" in html


async def test_failing_status_provider_does_not_break_page(store: FakeStore) -> None:
    from dashboards.app import create_app

    async def broken() -> dict:
        raise ConnectionError("runner gone")

    transport = httpx.ASGITransport(app=create_app(store, status_provider=broken))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/")
        assert r.status_code == 200
        assert "运行状态不可用" in r.text
        status = (await c.get("/api/status")).json()
        assert status["runner"] is None
        assert status["store"]["posts"] == 4


async def test_account_page_shows_risk_ring_and_posts(client: httpx.AsyncClient) -> None:
    r = await client.get("/accounts/weibo/u1")
    assert r.status_code == 200
    html = r.text
    assert "<h1>退保小助手" in html
    assert "高风险" in html
    assert "<b>92%</b>" in html
    assert "多次发布代理退保广告" in html
    assert "专注退保十年 V: tb8888" in html
    assert "ring-1" in html
    assert '<a href="/accounts/douyin/u9">退保小助手二号</a>' in html
    assert "共用：<code>wx:tb8888</code>" in html
    assert "近期帖子（1）" in html
    assert '<mark class="ev ev-contact-wechat"' in html


async def test_account_page_escapes_nickname_and_bio(client: httpx.AsyncClient) -> None:
    html = (await client.get("/accounts/weibo/evil")).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;nick&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(5)&gt;" in html
    assert "暂未发现共用联系方式的其他账号" in html


async def test_unknown_account_is_zh_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/accounts/weibo/nobody")
    assert r.status_code == 404
    assert "账号不存在" in r.text
    r = await client.get("/no/such/page")
    assert r.status_code == 404
    assert "页面不存在" in r.text


async def test_account_id_with_slash_round_trips(store: FakeStore) -> None:
    from dashboards.app import create_app
    from pipeline.models import AccountRisk

    await store.write_batch([], [AccountRisk(platform="web", account_id="a/b", nickname="斜杠")])
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/accounts/web/a%2Fb")
        assert r.status_code == 200
        assert "斜杠" in r.text


async def test_store_failure_is_a_zh_500_without_details(store: FakeStore) -> None:
    from dashboards.app import create_app

    store.fail_search = True
    transport = httpx.ASGITransport(app=create_app(store), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/")
        assert r.status_code == 500
        assert "服务器错误" in r.text
        assert "database is locked" not in r.text
        r = await c.get("/api/search")
        assert r.status_code == 500
        assert r.json() == {"error": "internal error"}


async def test_account_page_shows_the_ring_and_links_its_other_members(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/accounts/weibo/u1")).text
    line = (
        '<code class="ring-id">ring-1</code>（2 个账号，共用: '
        '<code class="contact">wx:tb8888</code>）'
    )
    assert f'<dt>团伙</dt><dd class="ring">{line}' in html
    section = html[html.index('<section class="ring-members">') :]
    section = section[: section.index("</section>")]
    assert f'<p class="ring">团伙 {line}' in section
    assert '<a href="/accounts/douyin/u9">退保小助手二号</a>' in section
    assert "/accounts/weibo/u1" not in section  # the account itself is not listed again
    member = (await client.get("/accounts/douyin/u9")).text
    assert '<a href="/accounts/weibo/u1">退保小助手</a>' in member


async def test_ring_contacts_and_member_names_are_escaped(store: FakeStore) -> None:
    from dashboards.app import create_app
    from pipeline.models import AccountRisk, Ring

    hostile = '<img src=x onerror="alert(6)">'
    store.rings["ring-x"] = Ring(id="ring-x", size=2, contacts=[f"link:{hostile}"])
    await store.write_batch(
        [],
        [
            AccountRisk(platform="weibo", account_id="a", nickname="甲", ring="ring-x"),
            AccountRisk(platform="weibo", account_id="b", nickname=hostile, ring="ring-x"),
        ],
    )
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        html = (await c.get("/accounts/weibo/a")).text
    assert hostile not in html
    assert "link:&lt;img src=x onerror=&#34;alert(6)&#34;&gt;" in html
    assert '<a href="/accounts/weibo/b">&lt;img src=x onerror=&#34;alert(6)&#34;&gt;</a>' in html


async def test_a_ring_replaced_meanwhile_still_shows_its_id(store: FakeStore) -> None:
    from dashboards.app import create_app

    store.rings.clear()  # the job replaced the rings between the account and ring reads
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/accounts/weibo/u1")
    assert r.status_code == 200
    assert '<p class="ring">团伙 <code class="ring-id">ring-1</code></p>' in r.text
    assert "个账号，共用" not in r.text
    assert '<a href="/accounts/douyin/u9">退保小助手二号</a>' in r.text


async def _weak_member_page(store: FakeStore, nickname: str = "丙") -> str:
    """An account the ring job attached to ring-1 by weak links, sharing a template."""
    from dashboards.app import create_app
    from pipeline.models import AccountRisk

    await store.write_batch(
        [],
        [
            AccountRisk(
                platform="weibo",
                account_id="w",
                nickname=nickname,
                score=0.8,
                flagged=True,
                ring="ring-1",
                ring_weak=["mention:weibo:u1", "template:douyin:u9"],
                template_peers=["douyin:u9", "weibo:<b>x</b>"],
            )
        ],
    )
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/accounts/weibo/w")
    assert r.status_code == 200
    return r.text


async def test_a_weakly_attached_member_shows_its_weak_links(store: FakeStore) -> None:
    html = await _weak_member_page(store)
    assert '<span class="badge">经提及/模板关联</span>' in html
    weak = html[html.index('<p class="ring-weak">') :]
    weak = weak[: weak.index("</p>")]
    assert "经提及/模板关联" in weak
    assert '提及 <a href="/accounts/weibo/u1">weibo:u1</a>' in weak
    assert '模板 <a href="/accounts/douyin/u9">douyin:u9</a>' in weak


async def test_template_peers_are_listed_with_links_and_escaped(store: FakeStore) -> None:
    html = await _weak_member_page(store)
    assert '<dd class="template-count">与 2 个账号发布相同的广告模板</dd>' in html
    section = html[html.index('<section class="template-peers">') :]
    section = section[: section.index("</section>")]
    assert "<h2>与 2 个账号发布相同的广告模板</h2>" in section
    assert '<a href="/accounts/douyin/u9">douyin:u9</a>' in section
    assert "<b>x</b>" not in html
    assert "weibo:&lt;b&gt;x&lt;/b&gt;</a>" in section


async def test_a_strong_member_shows_no_weak_links_or_template_section(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/accounts/weibo/u1")).text
    assert "经提及/模板关联" not in html
    assert 'class="template-peers"' not in html
    assert "相同的广告模板" not in html
