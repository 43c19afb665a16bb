"""Alert settings: defaults are off, mistakes are one-line ConfigErrors naming the key,
and the SMTP password comes from the environment only and is never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_settings

RULE = """
[[alerts.rules]]
name = "high_risk_account"
when = "account_flagged"
min_score = 0.9
categories = ["surrender", "debt"]
recipients = ["compliance@example.org"]
realert_hours = 72
"""
SMTP = """
[alerts.smtp]
host = "smtp.example.org"
port = 587
username = "radar"
sender = "radar@example.org"
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "radar.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ or {})


def test_alerts_are_off_by_default() -> None:
    settings = load_settings(environ={})
    assert not settings.alerts.enabled
    assert settings.alerts.rules == []


def test_rules_without_a_channel_stay_off(tmp_path: Path) -> None:
    assert not load(tmp_path, RULE).alerts.enabled
    assert load(tmp_path, RULE + SMTP).alerts.enabled


def test_the_password_comes_from_the_environment_and_is_never_shown(tmp_path: Path) -> None:
    settings = load(tmp_path, RULE + SMTP, {"RADAR_ALERTS__SMTP__PASSWORD": "s3cret-pw"})
    assert settings.alerts.smtp.password == "s3cret-pw"
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in repr(settings.alerts)


def test_the_password_can_come_from_a_named_variable_like_the_other_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``password_env`` names the variable a Kubernetes Secret is mapped to, as
    ``store.elasticsearch.password_env`` and the Kafka SASL settings do."""
    settings = load(tmp_path, RULE + SMTP + 'password_env = "SMTP_PASSWORD"\n')
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    assert settings.alerts.smtp.login_password() is None
    monkeypatch.setenv("SMTP_PASSWORD", "from-secret-9")
    assert settings.alerts.smtp.login_password() == "from-secret-9"
    assert "from-secret-9" not in repr(settings.alerts)


def test_a_password_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, RULE + SMTP + 'password = "hunter2"\n')
    message = str(caught.value)
    assert "alerts.smtp.password" in message and "RADAR_ALERTS__SMTP__PASSWORD" in message
    assert "hunter2" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("min_score = 1.5", "alerts.rules[0]: min_score: must be between 0 and 1"),
        ('categories = ["lottery"]', "alerts.rules[0]: categories: unknown category 'lottery'"),
        ('recipients = ["not-an-address"]', "alerts.rules[0]: recipients: not an e-mail"),
        ('when = "sometimes"', "alerts.rules[0].when: Invalid enum value 'sometimes'"),
        ('colour = "red"', "alerts.rules[0]: Object contains unknown field `colour`"),
        ("realert_hours = -1", "alerts.rules[0]: realert_hours: must be >= 0"),
    ],
)
def test_rule_mistakes_are_one_line_errors_naming_the_key(
    tmp_path: Path, snippet: str, expected: str
) -> None:
    key = snippet.split("=")[0].strip()
    rule = "".join(line for line in RULE.splitlines(True) if not line.startswith(key + " "))
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, rule + snippet + "\n" + SMTP)
    message = str(caught.value)
    assert expected in message, message
    assert "\n" not in message


def test_duplicate_rule_names_and_missing_sender_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="alerts: rules: duplicate name 'high_risk_account'"):
        load(tmp_path, RULE + RULE + SMTP)
    with pytest.raises(ConfigError, match="alerts: smtp: sender: required"):
        load(tmp_path, RULE + SMTP.replace('sender = "radar@example.org"', ""))
    with pytest.raises(ConfigError, match=r"alerts\.smtp: port: must be 1\.\.65535"):
        load(tmp_path, RULE + SMTP.replace("587", "70000"))


def test_a_rule_needs_somewhere_to_send(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs recipients, or webhook = true"):
        load(tmp_path, RULE.replace('recipients = ["compliance@example.org"]', "") + SMTP)


def test_environment_overrides_reach_alert_settings(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        RULE + SMTP,
        {"RADAR_ALERTS__SMTP__PORT": "2525", "RADAR_ALERTS__MAX_ATTEMPTS": "3"},
    )
    assert settings.alerts.smtp.port == 2525 and settings.alerts.max_attempts == 3


def test_the_readme_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 告警 / Alerts") :]
    example = section[section.index("```toml\n") + 8 : section.index("```\n", 10)]
    settings = load(tmp_path, example, {"RADAR_ALERTS__SMTP__PASSWORD": "x"})
    assert settings.alerts.enabled
    assert [r.when for r in settings.alerts.rules] == ["account_flagged", "post_flagged"]


def test_the_lease_must_outlast_a_slow_send(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lease_seconds: must be at least 4"):
        load(tmp_path, "[alerts]\nlease_seconds = 60\n" + RULE + SMTP)  # 4 × 30 s > 60 s
