"""The investigator page in a real browser, served by uvicorn over the real SqliteStore.

Checks what in-process HTTP tests cannot: the CSP lets the page's own script run (and
nothing else), the live poll fills the page as posts arrive, facet and author links work
when clicked, hostile text stays inert, and Chinese renders (screenshots land in /tmp for
a human to look at).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from dashboards.app import create_app
from pipeline.models import (
    AccountRisk,
    Contact,
    Evidence,
    Post,
    ScoredPost,
    SourceState,
    Verdict,
)
from pipeline.rings.job import find_live_rings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/radar-dashboard.png")
T0 = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)


def _post(
    n: int,
    text: str,
    author: tuple[str, str],
    categories: Sequence[str],
    score: float,
    evidence: Sequence[tuple[str, str]],
    wechat: str | None = None,
    platform: str = "weibo",
) -> ScoredPost:
    spans = [
        Evidence(start=text.index(s), end=text.index(s) + len(s), text=s, feature=f, category=None)
        for s, f in evidence
    ]
    contacts = []
    if wechat:
        at = text.index(wechat)
        contacts.append(
            Contact(kind="wechat", value=wechat, start=at, end=at + len(wechat), canonical=wechat)
        )
    return ScoredPost(
        post=Post(
            platform=platform,
            post_id=f"p{n}",
            text=text,
            source=f"{platform}-sample",
            author_id=author[0],
            author_name=author[1],
            url=f"https://{platform}.example/status/{n}",
            created_at=T0 + timedelta(hours=n),
        ),
        verdict=Verdict(
            flagged=score >= 0.5,
            score=score,
            categories=list(categories),
            evidence=spans,
            contacts=contacts,
            reasons=[f"命中特征：{f}" for _, f in evidence],
        ),
    )


SEED_POSTS = [
    _post(
        1,
        "专业办理全额退保，保险公司不退？我们有内部渠道，成功后收费。加V：tuibao888",
        ("u1", "退保无忧小陈"),
        ["surrender"],
        0.93,
        [("全额退保", "surrender_phrase"), ("成功后收费", "fee_after"), ("tuibao888", "wechat")],
        "tuibao888",
    ),
    _post(
        2,
        "信用卡逾期别怕，停息挂账、个性化分期一站搞定，专业反催收团队。微信 tuibao888",
        ("u2", "上岸顾问"),
        ["debt"],
        0.88,
        [("停息挂账", "debt_phrase"), ("反催收", "anti_collection"), ("tuibao888", "wechat")],
        "tuibao888",
        platform="douyin",
    ),
    _post(
        3,
        "征信花了也能修复，逾期记录可消除，不成功不收费",
        ("u3", "征信修复专家"),
        ["credit"],
        0.81,
        [("征信", "credit_phrase"), ("逾期记录可消除", "credit_erase")],
    ),
    _post(
        4,
        '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
        "代理投诉，银保监投诉包成功",
        ("u4", "<b>投诉代办</b>"),
        ["complaint"],
        0.7,
        [("代理投诉", "complaint_phrase")],
    ),
    _post(
        5,
        "今天去保险公司咨询退保，工作人员解释得很清楚，提醒大家别信代理退保。",
        ("u5", "普通用户"),
        [],
        0.05,
        [],
    ),
]
SEED_ACCOUNTS = [
    AccountRisk(
        platform="weibo",
        account_id="u1",
        nickname="退保无忧小陈",
        bio="十年退保经验，V: tuibao888",
        score=0.95,
        flagged=True,
        categories=["surrender"],
        contacts=["tuibao888"],
        post_scores={"weibo:p1": 0.93},
        flagged_posts=1,
        total_posts=1,
        reasons=["发布代理退保广告", "留有私人微信"],
        first_seen=T0,
        last_seen=T0 + timedelta(hours=1),
    ),
    AccountRisk(
        platform="douyin",
        account_id="u2",
        nickname="上岸顾问",
        score=0.9,
        flagged=True,
        categories=["debt"],
        contacts=["tuibao888"],
        post_scores={"douyin:p2": 0.88},
        flagged_posts=1,
        total_posts=1,
        reasons=["发布停息挂账广告"],
    ),
]


class LiveServer:
    """uvicorn in a thread with its own event loop, which also owns the store, so every
    store call runs on the loop that opened it."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="radar-dashboard", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        from pipeline.store.sqlite import SqliteStore

        self.loop = asyncio.get_running_loop()
        self.store = SqliteStore(self.db_path)
        await self.store.open()
        await self.store.write_batch(
            SEED_POSTS, SEED_ACCOUNTS, [SourceState(name="weibo-sample", posts_total=5)]
        )
        await find_live_rings(self.store)  # the two accounts share tuibao888
        config = uvicorn.Config(
            create_app(self.store), log_level="warning", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)
        serving = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started and not serving.done():
            await asyncio.sleep(0.02)
        self.ready.set()
        await serving
        await self.store.close()

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(30):
            raise TimeoutError("dashboard server did not start")
        if self.error:
            raise self.error

    def write(self, posts: Sequence[ScoredPost]) -> None:
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self.store.write_batch(posts), self.loop)
        future.result(timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "radar.db")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_investigator_flow_in_chromium(live_server: LiveServer, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text} at {msg.location.get('url')}")
            if msg.type == "error"
            else None
        ),
    )

    # The search page lists flagged posts with evidence marked, hostile text inert.
    page.goto(live_server.url + "/")
    hits = page.locator("article.hit")
    expect(hits).to_have_count(4)
    expect(page.locator("#total")).to_have_text("4")
    expect(page.locator("mark.ev").first).to_be_visible()
    expect(page.locator('mark.ev[title="surrender_phrase"]')).to_have_text("全额退保")
    expect(page.get_by_text("<script>document.title=", exact=False)).to_be_visible()
    expect(page.locator("article.hit img")).to_have_count(0)
    assert page.title() == "搜索 · 黑产雷达"
    expect(page.locator(".strip [data-stat=posts]")).to_have_text("5")

    # Typing a query and submitting marks the matches.
    page.fill("input[name=q]", "内部渠道")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/?q=*")
    expect(hits).to_have_count(1)
    expect(page.locator("article.hit mark.q")).to_have_text("内部渠道")
    expect(page.locator("article.hit mark.ev").first).to_be_visible()
    expect(page.locator("article.hit .author")).to_have_text("退保无忧小陈")

    # A category facet click filters; the count follows.
    page.click("a.reset")
    page.click("a[data-facet=category][data-value=credit]")
    page.wait_for_url("**category=credit*")
    expect(hits).to_have_count(1)
    expect(page.locator("article.hit .badge")).to_have_text("征信修复")
    expect(page.locator("select[name=category]")).to_have_value("credit")

    # New posts arriving while the page is open appear without a reload (JS poll).
    page.goto(live_server.url + "/")
    expect(hits).to_have_count(4)
    live_server.write(
        [
            _post(
                6,
                "全额退保最后三天名额，私信获取方案，加微信 tuibao888",
                ("u1", "退保无忧小陈"),
                ["surrender"],
                0.91,
                [("全额退保", "surrender_phrase"), ("tuibao888", "wechat")],
                "tuibao888",
            )
        ]
    )
    expect(page.locator("#total")).to_have_text("5", timeout=15_000)
    expect(hits).to_have_count(5)
    expect(page.locator(".strip [data-stat=posts]")).to_have_text("6", timeout=15_000)

    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The author link opens the account page with its ring.
    page.locator("article.hit a.author", has_text="退保无忧小陈").first.click()
    page.wait_for_url("**/accounts/weibo/u1")
    expect(page.locator("h1")).to_contain_text("退保无忧小陈")
    expect(page.locator(".sharing li a")).to_have_text("上岸顾问")
    expect(page.locator(".ring-members li a")).to_have_text("上岸顾问")
    expect(page.locator("dd.ring")).to_contain_text("2 个账号，共用: tuibao888")
    expect(page.locator(".recent article.hit")).to_have_count(2)
    page.screenshot(path="/tmp/radar-dashboard-account.png", full_page=True)

    # A phone-width layout stacks the facets above the results.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone.goto(live_server.url + "/")
    expect(phone.locator("article.hit")).to_have_count(5)
    facets = phone.locator("aside.facets").bounding_box()
    first_hit = phone.locator("article.hit").first.bounding_box()
    assert facets and first_hit and facets["y"] + facets["height"] <= first_hit["y"]
    no_overflow = "document.documentElement.scrollWidth <= window.innerWidth"
    assert phone.evaluate(no_overflow)
    phone.screenshot(path="/tmp/radar-dashboard-phone.png", full_page=True)

    assert page.title() != "pwned"
    assert problems == []
