"""radar.toml sources of the platform kinds load, validate, and build collectors."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from collectors.base import CollectorContext
from collectors.bilibili import BilibiliCollector, BilibiliSourceSettings
from collectors.registry import build_collector, known_source_kinds
from collectors.wechat import WechatCollector
from collectors.weibo import WeiboCollector, WeiboSourceSettings
from collectors.zhihu import ZhihuCollector
from pipeline.config import ConfigError, load_settings

TOML = """
[[sources]]
kind = "weibo"
name = "weibo-ads"
keywords = ["全额退保", "停息挂账"]
uids = ["7000000001"]
cookie_env = "RADAR_WEIBO_COOKIE"
rate_per_second = 0.2
interval_seconds = 600

[[sources]]
kind = "bilibili"
name = "bili"
keywords = ["代理退保"]
mids = ["3000000001"]
max_pages = 2

[[sources]]
kind = "zhihu"
name = "zhihu"
members = ["anxin-guihua"]
articles = false

[[sources]]
kind = "wechat"
name = "wx"
urls = ["https://mp.weixin.qq.com/s/AbC"]
url_file = "/tmp/wechat-urls.txt"
"""


def test_platform_kinds_are_registered():
    assert {"bilibili", "weibo", "zhihu", "wechat"} <= set(known_source_kinds())


async def test_sources_load_from_toml_and_build_collectors(tmp_path):
    path = tmp_path / "radar.toml"
    path.write_text(TOML, "utf-8")
    settings = load_settings(path, environ={})
    weibo, bili, zhihu, wechat = settings.sources
    assert isinstance(weibo, WeiboSourceSettings) and weibo.uids == ["7000000001"]
    assert weibo.cookie_env == "RADAR_WEIBO_COOKIE" and weibo.rate_per_second == 0.2
    assert isinstance(bili, BilibiliSourceSettings) and bili.max_pages == 2
    assert zhihu.articles is False and wechat.url_file == "/tmp/wechat-urls.txt"
    context = CollectorContext(tz=ZoneInfo("Asia/Shanghai"))
    built = [build_collector(source, context) for source in settings.sources]
    kinds = (WeiboCollector, BilibiliCollector, ZhihuCollector, WechatCollector)
    assert [type(c) for c in built] == list(kinds)
    assert [c.name for c in built] == ["weibo-ads", "bili", "zhihu", "wx"]
    for collector in built:
        await collector.aclose()


def test_unknown_options_are_refused(tmp_path):
    path = tmp_path / "radar.toml"
    path.write_text('[[sources]]\nkind = "weibo"\nname = "w"\ncookie = "SUB=secret"\n', "utf-8")
    with pytest.raises(ConfigError, match="cookie"):
        load_settings(path, environ={})
