"""``radar alerts``: list the outbox with status; ``--send-test`` mails a test alert."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from alert_support import NOW, SmtpCapture, parts, risk, rule, scored

from pipeline.alerts.outbox_sqlite import SqliteOutbox
from pipeline.alerts.rules import evaluate
from pipeline.cli import main


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "radar.toml"
    path.write_text(
        f"""
data_dir = "{tmp_path / "data"}"

[[alerts.rules]]
name = "high_risk"
recipients = ["compliance@example.org"]

[alerts.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "radar@example.org"
""",
        encoding="utf-8",
    )
    return path


async def _seed(path: Path) -> None:
    box = SqliteOutbox(path)
    await box.open()
    try:
        found = []
        for account in ("u1", "u2"):
            post = scored(f"p-{account}", author=account)
            found += evaluate([rule()], {}, [risk(account)], [post], NOW)
        one, two = await box.record(found, NOW)
        await box.mark_sent(one.id, NOW + timedelta(seconds=5))
        await box.mark_failed(two.id, "550 no such user", None)
    finally:
        await box.close()


def test_alerts_lists_the_outbox_with_status(tmp_path: Path, capsys, free_port: int) -> None:
    config = write_config(tmp_path, free_port)
    asyncio.run(_seed(tmp_path / "data" / "radar.sqlite3"))
    assert main(["alerts", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "alerts on: 0 pending 待发送, 1 sent 已发送, 1 failed 失败" in out
    assert "weibo:u1 (name-u1)" in out and "sent/已发送" in out
    assert "failed/失败" in out and "last error: 550 no such user" in out

    assert main(["alerts", "--config", str(config), "--status", "failed", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["counts"] == {"pending": 0, "sent": 1, "failed": 1}
    assert [a["account_key"] for a in body["alerts"]] == ["weibo:u2"]


def test_alerts_without_a_store_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["alerts", "--data-dir", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "no store yet" in err and err.count("\n") == 1
    assert not (tmp_path / "nothing").exists()


def test_send_test_mails_a_marked_test_alert(tmp_path: Path, capsys, smtpd: SmtpCapture) -> None:
    config = write_config(tmp_path, smtpd.port)
    assert main(["alerts", "--config", str(config), "--send-test", "me@example.org"]) == 0
    assert "sent a test alert to me@example.org" in capsys.readouterr().out
    [message] = smtpd.messages
    assert message["To"] == "me@example.org"
    text, html = parts(message)
    assert "测试邮件" in text and "test message" in text
    assert "<mark" in html


@pytest.mark.parametrize("address", ["not-an-address", "a@b\nBcc: x@y"])
def test_send_test_refuses_a_bad_address(tmp_path: Path, capsys, address: str) -> None:
    config = write_config(tmp_path, 2525)
    assert main(["alerts", "--config", str(config), "--send-test", address]) == 2
    assert "--send-test: not an e-mail address" in capsys.readouterr().err


def test_send_test_reports_a_down_server(tmp_path: Path, capsys, free_port: int) -> None:
    config = write_config(tmp_path, free_port)
    assert main(["alerts", "--config", str(config), "--send-test", "me@example.org"]) == 1
    assert "test mail to me@example.org failed" in capsys.readouterr().err
