"""The e-mail channel: an alert rendered as a multipart/alternative message (plain text
and HTML, zh-CN first, English second) and sent with aiosmtplib.

Why templates in files (``templates/``): wording is for compliance staff to adjust, not
code. The HTML template is autoescaped, and everything from a post (nickname, text,
URL) reaches it as data: matched words are marked by splitting the snippet into
fragments that the template escapes one by one, and only http(s) URLs become links.
Header values are stripped of control characters, so a hostile account id cannot inject
a header.

The Message-ID is derived from the alert id: if a crash between "the server accepted it"
and "marked sent" makes the sender deliver again, mail clients see the same message.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import tomllib
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

import aiosmtplib
import jinja2

from pipeline.alerts.excerpts import fragments
from pipeline.alerts.settings import AlertSettings, SmtpSettings
from pipeline.models import CATEGORY_LABELS_ZH, Alert, Excerpt

log = logging.getLogger("radar.alerts")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
MAX_SUBJECT_CHARS = 200


class PermanentDeliveryError(Exception):
    """The receiving side refused the alert for good (a retry would be refused again)."""


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.alerts", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


@functools.cache
def labels() -> dict[str, Any]:
    text = resources.files("pipeline.alerts").joinpath("templates", "labels.toml").read_text()
    return tomllib.loads(text)


def safe_url(url: str | None) -> str | None:
    """Only web links become links: never ``javascript:`` or ``data:`` from a post."""
    if url and url.startswith(("http://", "https://")) and not _CONTROL.search(url):
        return url
    return None


def header_text(value: str) -> str:
    """One line, no control characters: safe in any header."""
    return _CONTROL.sub(" ", value).strip()


def dashboard_link(alert: Alert, settings: AlertSettings) -> str | None:
    """The account page (``/accounts/{platform}/{id}``), each part URL-quoted."""
    if not alert.account_id:
        return None
    base = settings.dashboard_url.rstrip("/")
    return f"{base}/accounts/{quote(alert.platform, safe='')}/{quote(alert.account_id, safe='')}"


def _local_time(when: datetime, tz: tzinfo) -> str:
    """``2026-11-01 20:00:00 (UTC+08:00)``: unambiguous, unlike "CST"."""
    local = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(tz)
    offset = local.strftime("%z") or "+0000"
    return f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})"


def _context(alert: Alert, settings: AlertSettings, tz: tzinfo, test: bool) -> dict[str, Any]:
    words = labels()
    kind = words["kind"][alert.kind]
    english = words["category_en"]
    return {
        "alert": alert,
        "test": test,
        "zh": {"kind": kind["zh"]},
        "en": {"kind": kind["en"]},
        "target": alert.account_key or alert.post_key or alert.dedupe_key,
        "score": f"{alert.score:.2f}",
        "categories_zh": [CATEGORY_LABELS_ZH.get(c, c) for c in alert.categories],
        "categories_en": [f"{english.get(c, c)} ({c})" for c in alert.categories],
        "created": _local_time(alert.created_at, tz),
        "link": dashboard_link(alert, settings),
        "fragments": lambda e: fragments(e.snippet, e.spans) if isinstance(e, Excerpt) else [],
        "safe_url": safe_url,
    }


def render(
    alert: Alert, settings: AlertSettings, *, tz: tzinfo = UTC, test: bool = False
) -> tuple[str, str, str]:
    """``(subject, text, html)`` for an alert."""
    env = _environment()
    context = _context(alert, settings, tz, test)
    subject = header_text(env.get_template("subject.txt").render(context))[:MAX_SUBJECT_CHARS]
    context["subject"] = subject
    text = env.get_template("alert.txt").render(context)
    html = env.get_template("alert.html").render(context)
    return subject, text, html


def message_id(alert: Alert) -> str:
    digest = hashlib.sha256(alert.id.encode()).hexdigest()[:32]
    return f"<{digest}.alert@heichan-radar>"


def build_message(
    alert: Alert, settings: AlertSettings, *, tz: tzinfo = UTC, test: bool = False
) -> EmailMessage:
    """The multipart/alternative message for ``alert.recipients``."""
    subject, text, html = render(alert, settings, tz=tz, test=test)
    message = EmailMessage()
    message["From"] = header_text(settings.smtp.sender)
    message["To"] = ", ".join(header_text(r) for r in alert.recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(alert.created_at.astimezone(UTC))
    message["Message-ID"] = message_id(alert)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    # For the recipients' mail filters (and threading per account): who it is about.
    message["X-Radar-Alert"] = header_text(alert.id)
    if alert.account_key:
        message["X-Radar-Account"] = header_text(alert.account_key)
    message["Content-Language"] = "zh-CN, en"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


async def send_message(message: EmailMessage, smtp: SmtpSettings) -> None:
    """Send through the configured server. The password is passed to aiosmtplib and
    nowhere else: errors name the server's answer, never the credentials. A refusal
    with a 5xx code is permanent; everything else (down, timeout, 4xx) is worth a retry."""
    try:
        refused, _ = await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=smtp.login_password() if smtp.username else None,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        if all(r.code >= 500 for r in exc.recipients):
            raise PermanentDeliveryError(f"SMTP refused every recipient: {exc}") from exc
        raise
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
        if exc.code >= 500:
            raise PermanentDeliveryError(f"SMTP {exc.code}: {exc.message}") from exc
        raise
    for address, response in refused.items():  # some recipients got it, these did not
        log.warning("alert mail to %s refused: %s", address, response)


class EmailChannel:
    """Delivers an alert as one message to its recipients."""

    name = "email"

    def __init__(self, settings: AlertSettings, *, tz: tzinfo = UTC) -> None:
        self.settings = settings
        self.tz = tz

    async def deliver(self, alert: Alert) -> None:
        if not alert.recipients:
            raise PermanentDeliveryError("no recipients")
        await send_message(build_message(alert, self.settings, tz=self.tz), self.settings.smtp)
