"""``radar alerts``: the outbox in a terminal (what was alerted, to whom, delivered or why
not), and ``--send-test ADDRESS`` to check the SMTP settings before a real alert needs
them."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

from pipeline.alerts.mail import build_message, send_message
from pipeline.alerts.outbox import open_outbox
from pipeline.alerts.settings import is_address
from pipeline.config import ConfigError, Settings
from pipeline.models import Alert, AlertStatus, Excerpt, Span
from pipeline.store.factory import store_missing

STATUS_ZH = {"pending": "待发送", "sent": "已发送", "failed": "失败"}


async def run_alerts(settings: Settings, *, status: str | None, limit: int, as_json: bool) -> int:
    if status is not None and status not in {str(s) for s in AlertStatus}:
        raise ConfigError(f"--status: one of pending, sent, failed (got {status!r})")
    if missing := store_missing(settings):
        raise ConfigError(missing)
    outbox = open_outbox(settings, None)
    await outbox.open()
    try:
        counts = await outbox.counts()
        alerts = await outbox.list(status, limit)
    finally:
        await outbox.close()
    if as_json:
        body = {"counts": counts, "alerts": msgspec.to_builtins(alerts)}
        sys.stdout.buffer.write(msgspec.json.encode(body) + b"\n")
        return 0
    state = "on" if settings.alerts.enabled else "off (no rules or no channel configured)"
    print(
        f"告警 alerts {state}: {counts['pending']} pending 待发送, {counts['sent']} sent 已发送, "
        f"{counts['failed']} failed 失败"
    )
    for alert in alerts:
        print(_line(alert, settings))
    return 0


def _line(alert: Alert, settings: Settings) -> str:
    when = alert.created_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    who = alert.account_key or alert.post_key or "-"
    if alert.nickname:
        who += f" ({alert.nickname})"
    to = ", ".join(alert.recipients) if alert.channel == "email" else "webhook"
    status = f"{alert.status}/{STATUS_ZH.get(str(alert.status), '')}"
    line = (
        f"{when}  {status:<12} tries {alert.attempts}  {alert.rule}  {who}  "
        f"{alert.score:.2f}  → {to}"
    )
    if alert.last_error and alert.status != AlertStatus.SENT:
        line += f"\n    last error: {alert.last_error}"
    return line


def test_alert(address: str, now: datetime | None = None) -> Alert:
    """A clearly marked test alert: no real account, no real post."""
    snippet = "这是一封测试邮件：命中词会这样标记。This is a test: matched words look like this."
    start = snippet.index("命中词")
    return Alert(
        id=f"send-test#{(now or datetime.now(UTC)).isoformat()}",
        dedupe_key="send-test",
        rule="send-test",
        kind="account",
        created_at=now or datetime.now(UTC),
        platform="test",
        score=1.0,
        account_key="test:radar-send-test",
        nickname="测试账号 / test account",
        categories=[],
        reasons=["测试邮件, 不是真实告警 / a test message, not a real alert"],
        evidence=[
            Excerpt(
                post_key="test:1",
                snippet=snippet,
                spans=[Span(start=start, end=start + 3, feature="test", text="命中词")],
                score=1.0,
            )
        ],
        recipients=[address],
    )


async def send_test(settings: Settings, address: str) -> int:
    smtp = settings.alerts.smtp
    if not smtp.host:
        raise ConfigError("alerts.smtp.host: not set; nothing to send the test through")
    if not smtp.sender:
        raise ConfigError("alerts.smtp.sender: not set (the From address)")
    if not is_address(address):
        raise ConfigError(f"--send-test: not an e-mail address: {address!r}")
    alert = test_alert(address)
    try:
        await send_message(build_message(alert, settings.alerts, tz=settings.tz, test=True), smtp)
    except Exception as exc:
        print(f"radar: test mail to {address} failed: {_reason(exc)}", file=sys.stderr)
        return 1
    print(f"sent a test alert to {address} via {smtp.host}:{smtp.port} ({smtp.security})")
    return 0


def _reason(exc: Exception) -> Any:
    return " ".join(f"{type(exc).__name__}: {exc}".split())
