"""Delivery against a real SMTP server (aiosmtpd on loopback), on either store's outbox:
mails arrive and decode, a down server means a later retry and exactly one mail, a
permanent refusal or too many failures end in ``failed``, and replays send nothing."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from alert_support import NOW, SmtpCapture, alert_settings, parts, risk, rule, scored

from pipeline.alerts.outbox import Outbox
from pipeline.alerts.service import AlertService, build_channels
from pipeline.alerts.settings import AlertSettings
from pipeline.models import AlertStatus, Review, ReviewStatus, account_review_target


def service(outbox: Outbox, settings: AlertSettings) -> AlertService:
    return AlertService(settings, outbox, build_channels(settings))


async def fire(alerts: AlertService, account: str = "u1", at=NOW):
    posts = [scored(f"p-{account}", author=account)]
    return await alerts.after_write({}, [risk(account, score=0.97)], posts, at)


async def test_mails_arrive_with_both_languages_and_the_evidence(
    outbox: Outbox, smtpd: SmtpCapture
) -> None:
    alerts = service(outbox, alert_settings(smtpd.port, [rule()]))
    recorded = await fire(alerts)
    assert len(recorded) == 1
    report = await alerts.deliver_due(NOW)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [message] = smtpd.messages
    assert smtpd.handler.envelopes == [("radar@example.org", ["compliance@example.org"])]
    assert message["Subject"] == "[黑产雷达] 高风险账号 weibo:u1 (0.97) / High-risk account"
    text, html = parts(message)
    for body in (text, html):
        assert "高风险账号" in body and "High-risk account".lower() in body.lower()
        assert "全额退保" in body and "wechat:tb2026" in body
        assert "/accounts/weibo/u1" in body
    assert "【全额退保】" in text and "<mark" in html
    assert text.index("规则") < text.index("Rule:")
    [stored] = await outbox.list()
    assert stored.status == AlertStatus.SENT and stored.attempts == 1


async def test_smtp_down_is_retried_later_then_delivered_once(
    outbox: Outbox, free_port: int
) -> None:
    settings = alert_settings(free_port, [rule()], retry_base_seconds=60)
    alerts = service(outbox, settings)
    await fire(alerts)
    down = await alerts.deliver_due(NOW)  # nothing listens on the port yet
    assert (down.sent, down.retrying) == (0, 1)
    [pending] = await outbox.list()
    assert pending.status == AlertStatus.PENDING and pending.attempts == 1
    assert pending.next_attempt_at == NOW + timedelta(seconds=60)
    assert "Error" in (pending.last_error or "")

    smtpd = SmtpCapture(free_port).start()
    try:
        early = await alerts.deliver_due(NOW + timedelta(seconds=30))  # not due yet
        assert early.sent == 0 and smtpd.messages == []
        up = await alerts.deliver_due(NOW + timedelta(seconds=61))
        assert up.sent == 1
        again = await alerts.deliver_due(NOW + timedelta(days=3))
        assert again.sent == 0
        assert len(smtpd.messages) == 1  # never twice
    finally:
        smtpd.stop()
    [sent] = await outbox.list()
    assert sent.status == AlertStatus.SENT and sent.attempts == 2


async def test_a_replayed_batch_sends_nothing_new(outbox: Outbox, smtpd: SmtpCapture) -> None:
    alerts = service(outbox, alert_settings(smtpd.port, [rule()]))
    await fire(alerts)
    await alerts.deliver_due(NOW)
    assert await fire(alerts, at=NOW + timedelta(minutes=5)) == []  # the same batch again
    await alerts.deliver_due(NOW + timedelta(minutes=10))
    assert len(smtpd.messages) == 1


async def test_attempts_run_out_into_failed(outbox: Outbox, free_port: int) -> None:
    settings = alert_settings(free_port, [rule()], max_attempts=3, retry_base_seconds=10)
    alerts = service(outbox, settings)
    await fire(alerts)
    at = NOW
    outcomes = []
    for _ in range(3):
        report = await alerts.deliver_due(at)
        outcomes.append((report.retrying, report.failed))
        at += timedelta(hours=1)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    [failed] = await outbox.list()
    assert failed.status == AlertStatus.FAILED and failed.attempts == 3
    assert await alerts.deliver_due(at + timedelta(days=1)) == type(report)()


async def test_a_permanent_refusal_is_not_retried(outbox: Outbox, free_port: int) -> None:
    smtpd = SmtpCapture(free_port, refuse={"gone@example.org"}).start()
    try:
        alerts = service(outbox, alert_settings(free_port, [rule(recipients=["gone@example.org"])]))
        await fire(alerts)
        report = await alerts.deliver_due(NOW)
        assert report.failed == 1
        [failed] = await outbox.list()
        assert failed.status == AlertStatus.FAILED and "550" in (failed.last_error or "")
        assert smtpd.messages == []
    finally:
        smtpd.stop()


async def test_a_dismissed_account_records_no_alert(outbox: Outbox, smtpd: SmtpCapture) -> None:
    store = outbox.store  # type: ignore[attr-defined]
    await store.set_review(
        Review(target=account_review_target("weibo:u1"), status=ReviewStatus.DISMISSED)
    )
    alerts = service(outbox, alert_settings(smtpd.port, [rule()]))
    assert await fire(alerts, "u1") == []
    assert len(await fire(alerts, "u2")) == 1


async def test_login_uses_the_password_and_never_logs_it(
    outbox: Outbox, free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    smtpd = SmtpCapture(free_port, credentials=("radar", "pw-7f3a")).start()
    try:
        settings = alert_settings(
            free_port, [rule()], smtp={"username": "radar", "password": "pw-7f3a"}
        )
        alerts = service(outbox, settings)
        await fire(alerts)
        with caplog.at_level(logging.DEBUG):
            assert (await alerts.deliver_due(NOW)).sent == 1
        assert smtpd.logins == ["radar"]
        wrong = alert_settings(
            free_port, [rule("other")], smtp={"username": "radar", "password": "nope-91c"}
        )
        alerts = service(outbox, wrong)
        await fire(alerts)
        with caplog.at_level(logging.DEBUG):
            assert (await alerts.deliver_due(NOW)).retrying == 1
    finally:
        smtpd.stop()
    stored = "".join(a.last_error or "" for a in await outbox.list())
    assert "pw-7f3a" not in caplog.text and "nope-91c" not in caplog.text
    assert "nope-91c" not in stored and "535" in stored  # the server's answer is kept


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[dict]]]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


async def test_webhook_and_email_are_delivered_independently(
    outbox: Outbox, free_port: int, webhook_server: tuple[str, list[dict]]
) -> None:
    url, received = webhook_server
    settings = alert_settings(free_port, [rule(webhook=True)], webhook={"url": url})
    alerts = service(outbox, settings)
    recorded = await fire(alerts)
    assert sorted(a.channel for a in recorded) == ["email", "webhook"]
    report = await alerts.deliver_due(NOW)  # SMTP is down; the webhook is up
    assert (report.sent, report.retrying) == (1, 1)
    assert len(received) == 1
    body = received[0]
    assert body["account_key"] == "weibo:u1" and body["evidence"][0]["post_key"] == "weibo:p-u1"
    assert body["dashboard_link"].endswith("/accounts/weibo/u1")
    smtpd = SmtpCapture(free_port).start()
    try:
        later = await alerts.deliver_due(NOW + timedelta(hours=1))
        assert later.sent == 1 and len(smtpd.messages) == 1
    finally:
        smtpd.stop()
    assert len(received) == 1  # the webhook was not called again for the mail's retry
    await alerts.close()
