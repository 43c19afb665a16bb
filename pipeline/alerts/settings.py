"""Alert settings: the ``[alerts]`` table of radar.toml and its ``[[alerts.rules]]``.

Validation happens in ``__post_init__`` so msgspec reports it with the key's path, and
:func:`pipeline.config.load_settings` turns that into the usual one-line ``ConfigError``
(``radar.toml: alerts.rules[0]: min_score: must be between 0 and 1``).

The SMTP password comes from the environment only (``RADAR_ALERTS__SMTP__PASSWORD``,
through the settings' ordinary ``RADAR_*`` mechanism): :func:`secret_in_file` lets the
loader refuse a file that holds one, and the settings' ``repr`` never shows it, so it
cannot leak into a log line or a traceback.

Alerts are off unless at least one rule and one channel (an SMTP host or a webhook URL)
are configured: ``make run`` with no settings records nothing and sends nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from pipeline.models import CATEGORIES

PASSWORD_ENV = "RADAR_ALERTS__SMTP__PASSWORD"  # noqa: S105 (a variable name, not a secret)
# An SMTP send is several round trips (connect, EHLO, AUTH, MAIL, RCPT, DATA), each with
# its own timeout; a sender's claim (lease_seconds) must outlast this many timing out.
STEPS_PER_SEND = 4
_RULE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Deliberately loose: the SMTP server is the judge of an address; this only catches
# typos that would otherwise fail at 3 a.m. (a missing @, a stray space or newline).
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


def is_address(value: str) -> bool:
    return bool(_ADDRESS.match(value))


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class SmtpSettings(_Section):
    host: str = ""  # empty: no e-mail channel
    port: int = 587
    # "starttls": plain connect then STARTTLS (port 587); "tls": implicit TLS (465);
    # "none": no encryption (a relay on localhost, tests).
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None  # only from RADAR_ALERTS__SMTP__PASSWORD
    # Or the name of another variable holding it, as the Elasticsearch and Kafka settings
    # do (what a Kubernetes Secret is mapped to: deploy/k8s).
    password_env: str | None = None
    sender: str = ""  # the From address
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError("port: must be 1..65535")
        if self.sender and not _ADDRESS.match(self.sender):
            raise ValueError(f"sender: not an e-mail address: {self.sender!r}")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds: must be > 0")

    def login_password(self) -> str | None:
        """The password to log in with: ``RADAR_ALERTS__SMTP__PASSWORD``, else the
        variable ``password_env`` names; None when neither is set."""
        if self.password is not None:
            return self.password
        return os.environ.get(self.password_env) if self.password_env else None

    def __repr__(self) -> str:
        shown = "***" if self.login_password() else None
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, password={shown!r}, sender={self.sender!r})"
        )


class WebhookSettings(_Section):
    # Empty: no webhook channel. A URL carrying a token can come from the environment
    # (RADAR_ALERTS__WEBHOOK__URL) like any other setting.
    url: str = ""
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url: must start with http:// or https://")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds: must be > 0")

    def __repr__(self) -> str:
        return f"WebhookSettings(url={'***' if self.url else ''!r})"


class AlertRule(_Section):
    """``when = "account_flagged"``: an account crosses the rule (it becomes flagged, or
    its score rises to ``min_score``). ``when = "post_flagged"``: one flagged post scores
    at least ``min_score`` and carries a private contact."""

    name: str
    when: Literal["account_flagged", "post_flagged"] = "account_flagged"
    min_score: float = 0.9
    categories: list[str] = msgspec.field(default_factory=list)  # empty: any category
    platforms: list[str] = msgspec.field(default_factory=list)  # empty: any platform
    recipients: list[str] = msgspec.field(default_factory=list)
    webhook: bool = False  # also POST the alert to [alerts.webhook] url
    realert_hours: float = 72.0

    def __post_init__(self) -> None:
        if not _RULE_NAME.match(self.name):
            raise ValueError(f"name: use letters, digits, _ . - (got {self.name!r})")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError("min_score: must be between 0 and 1")
        unknown = sorted(set(self.categories) - set(CATEGORIES))
        if unknown:
            known = ", ".join(CATEGORIES)
            raise ValueError(f"categories: unknown category {unknown[0]!r} (known: {known})")
        for address in self.recipients:
            if not _ADDRESS.match(address):
                raise ValueError(f"recipients: not an e-mail address: {address!r}")
        if not self.recipients and not self.webhook:
            raise ValueError("needs recipients, or webhook = true")
        if self.realert_hours < 0:
            raise ValueError("realert_hours: must be >= 0")


class AlertSettings(_Section):
    rules: list[AlertRule] = msgspec.field(default_factory=list)
    smtp: SmtpSettings = msgspec.field(default_factory=SmtpSettings)
    webhook: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    # The investigator page linked from every alert: {dashboard_url}/accounts/{platform}/{id}.
    dashboard_url: str = "http://127.0.0.1:8600"
    send_interval_seconds: float = 15.0
    # Delivery attempts before an alert is marked failed; waits double from
    # retry_base_seconds up to retry_max_seconds between them.
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    # A sender claims due alerts for this long, so two senders (several workers) never
    # deliver the same one; an alert claimed by a crashed sender is retried after it.
    lease_seconds: float = 300.0
    max_evidence: int = 5

    def __post_init__(self) -> None:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rules: duplicate name {duplicates[0]!r}")
        if not self.dashboard_url.startswith(("http://", "https://")):
            raise ValueError("dashboard_url: must start with http:// or https://")
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        if min(self.send_interval_seconds, self.retry_base_seconds, self.lease_seconds) <= 0:
            raise ValueError(
                "send_interval_seconds, retry_base_seconds and lease_seconds must be > 0"
            )
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("retry_max_seconds: must be >= retry_base_seconds")
        slowest = max(self.smtp.timeout_seconds, self.webhook.timeout_seconds)
        if self.lease_seconds < STEPS_PER_SEND * slowest:
            raise ValueError(
                "lease_seconds: must be at least 4 × the SMTP / webhook timeout, so a slow "
                "send ends before another sender may take the alert over"
            )
        if not 1 <= self.max_evidence <= 20:
            raise ValueError("max_evidence: must be 1..20")
        if self.smtp.host and not self.smtp.sender and any(r.recipients for r in self.rules):
            raise ValueError("smtp: sender: required to send e-mail (the From address)")

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp.host)

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.webhook.url)

    @property
    def enabled(self) -> bool:
        """Rules, and a channel to deliver them: otherwise nothing is recorded."""
        return bool(self.rules) and (self.email_enabled or self.webhook_enabled)


def secret_in_file(data: Mapping[str, Any]) -> str | None:
    """Why the settings file is refused, if it holds the SMTP password (the loader calls
    this on the file alone, before the environment is merged in)."""
    alerts = data.get("alerts")
    smtp = alerts.get("smtp") if isinstance(alerts, Mapping) else None
    if isinstance(smtp, Mapping) and smtp.get("password") is not None:
        return f"alerts.smtp.password: never in the file; set {PASSWORD_ENV} in the environment"
    return None
