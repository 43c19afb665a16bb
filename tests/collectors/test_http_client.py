"""The shared HTTP client: pacing, retries, Retry-After, risk statuses, secrets."""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from collectors.http import (
    HttpSourceSettings,
    PoliteTransport,
    RateLimitedError,
    ShapeError,
    build_client,
    json_body,
    parse_retry_after,
    register_secret,
    safe_url,
    scrub,
)


def settings(**overrides) -> HttpSourceSettings:
    base = {"name": "t", "rate_per_second": 0, "retries": 3, "backoff_seconds": 0.01}
    return HttpSourceSettings(**{**base, **overrides})


class Script:
    """A MockTransport handler answering from a list, recording each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script, **overrides) -> httpx.AsyncClient:
    return build_client(
        settings(**overrides),
        default_base_url="http://api.test",
        transport=httpx.MockTransport(script),
    )


async def test_429_with_retry_after_is_waited_out_then_succeeds():
    script = Script(
        httpx.Response(429, headers={"Retry-After": "0.2"}), httpx.Response(200, json={"ok": 1})
    )
    async with client(script) as http:
        started = time.monotonic()
        response = await http.get("/x")
    assert response.status_code == 200
    assert len(script.requests) == 2
    assert time.monotonic() - started >= 0.2


async def test_5xx_are_retried_up_to_the_limit_then_returned():
    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(200, text="ok"))
    async with client(script) as http:
        assert (await http.get("/x")).text == "ok"
    assert len(script.requests) == 3

    always = Script(httpx.Response(500))
    async with client(always, retries=2) as http:
        assert (await http.get("/x")).status_code == 500
    assert len(always.requests) == 3  # one try + two retries


async def test_timeouts_are_retried_and_the_last_one_raised():
    flaky = Script(httpx.ReadTimeout("slow"), httpx.Response(200, text="ok"))
    async with client(flaky) as http:
        assert (await http.get("/x")).text == "ok"

    dead = Script(httpx.ConnectTimeout("down"))
    async with client(dead, retries=1) as http:
        with pytest.raises(httpx.ConnectTimeout):
            await http.get("/x")
    assert len(dead.requests) == 2


@pytest.mark.parametrize("status", [403, 412, 432, 461])
async def test_risk_control_statuses_are_never_retried(status):
    script = Script(httpx.Response(status))
    async with client(script) as http:
        assert (await http.get("/x")).status_code == status
    assert len(script.requests) == 1


async def test_a_5xx_that_says_risk_control_is_not_retried():
    script = Script(httpx.Response(503, text="Error: Request failed with status code 461"))
    async with client(script) as http:
        assert (await http.get("/x")).status_code == 503
    assert len(script.requests) == 1


async def test_a_retry_after_too_long_to_wait_is_a_rate_limit_error():
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    async with client(script) as http:
        with pytest.raises(RateLimitedError) as caught:
            await http.get("/x")
    assert caught.value.retry_after == 3600
    assert len(script.requests) == 1


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("12", now) == 12
    assert parse_retry_after(later, now) == pytest.approx(90)
    assert parse_retry_after("yesterday-ish", now) is None
    assert parse_retry_after(None) is None


async def test_requests_to_one_host_are_paced():
    script = Script(httpx.Response(200))
    async with client(script, rate_per_second=20) as http:
        started = time.monotonic()
        await asyncio.gather(*(http.get("/x") for _ in range(5)))
    # Five starts at 20/s: the last one no sooner than 4 intervals after the first.
    assert time.monotonic() - started >= 4 / 20 - 0.01


async def test_two_sources_on_one_host_share_its_pace():
    script = Script(httpx.Response(200))
    started = time.monotonic()
    async with client(script, rate_per_second=10) as one, client(script, rate_per_second=10) as two:
        await asyncio.gather(one.get("/a"), two.get("/b"), one.get("/c"), two.get("/d"))
    assert time.monotonic() - started >= 3 / 10 - 0.01


async def test_concurrency_per_host_is_bounded():
    active = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return httpx.Response(200)

    transport = PoliteTransport(httpx.MockTransport(handler), rate_per_second=0, concurrency=2)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        await asyncio.gather(*(http.get("/x") for _ in range(6)))
    assert peak == 2


async def test_cookie_comes_from_the_environment_and_never_reaches_logs(monkeypatch, caplog):
    secret = "SUB=_2A25LsecretCookieValue; SUBP=0033WrSXqPxfM"
    monkeypatch.setenv("TEST_WEIBO_COOKIE", secret)
    script = Script(httpx.Response(503), httpx.Response(200))
    caplog.set_level(logging.DEBUG)
    async with client(script, cookie_env="TEST_WEIBO_COOKIE") as http:
        await http.get("/x", params={"access_token": "tok123456789"})
    assert script.requests[0].headers["cookie"] == secret
    assert "Mozilla/5.0" in script.requests[0].headers["user-agent"]
    logged = caplog.text
    assert "retry 1/3" in logged
    assert "secretCookieValue" not in logged and "tok123456789" not in logged
    assert scrub(f"failed with {secret}") == "failed with ***"
    assert "0033WrSXqPxfM" not in scrub("SUBP=0033WrSXqPxfM leaked")


def test_scrub_masks_registered_secrets_and_token_query_values():
    register_secret("Bearer vendor-token-abcdef")
    assert "vendor-token-abcdef" not in scrub("header was vendor-token-abcdef")
    assert scrub("GET /a?page=2&access_token=xyz&w_rid=abc") == (
        "GET /a?page=2&access_token=***&w_rid=***"
    )
    assert safe_url("https://h.test:8443/p/q?sign=s") == "https://h.test:8443/p/q"


async def test_oversized_bodies_are_refused():
    script = Script(httpx.Response(200, content=b"x" * 5000))
    transport = PoliteTransport(httpx.MockTransport(script), rate_per_second=0, max_body_bytes=1000)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        with pytest.raises(ShapeError, match="larger than 1000"):
            await http.get("/big")


def test_json_body_names_html_and_truncated_bodies():
    with pytest.raises(ShapeError, match="HTML") as caught:
        json_body(httpx.Response(200, text="<html><body>验证码</body></html>"))
    assert "验证码" in caught.value.sample
    with pytest.raises(ShapeError, match="malformed JSON"):
        json_body(httpx.Response(200, text='{"data": {"cards": [1, 2'))
    with pytest.raises(ShapeError, match="empty"):
        json_body(httpx.Response(200, text="  "))
    assert json_body(httpx.Response(200, json={"ok": 1})) == {"ok": 1}


async def test_base_url_setting_wins_over_the_platform_default():
    script = Script(httpx.Response(200))
    http = build_client(
        settings(base_url="http://mirror.test"),
        default_base_url="https://m.weibo.cn",
        transport=httpx.MockTransport(script),
    )
    async with http:
        await http.get("/api/x")
    assert str(script.requests[0].url) == "http://mirror.test/api/x"


def test_bad_pacing_settings_are_config_errors(tmp_path):
    from pipeline.config import ConfigError, load_settings

    config = tmp_path / "radar.toml"
    config.write_text(
        '[[sources]]\nkind = "rsshub"\nname = "feeds"\nroutes = ["/weibo/user/1"]\n'
        "concurrency = 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]: concurrency: must be at least 1"):
        load_settings(config, environ={})


async def test_a_missing_cookie_variable_is_a_warning_not_a_crash(caplog):
    script = Script(httpx.Response(200))
    caplog.set_level(logging.WARNING)
    async with client(script, cookie_env="NO_SUCH_COOKIE_VAR") as http:
        await http.get("/x")
    assert "cookie" not in script.requests[0].headers
    assert "NO_SUCH_COOKIE_VAR is not set" in caplog.text
