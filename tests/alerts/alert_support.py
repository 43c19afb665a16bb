"""Builders and a real SMTP server for the alert tests.

``SmtpCapture`` runs aiosmtpd (a real SMTP server, in its own thread) on a loopback port
and keeps every message it accepted, parsed, so tests read what a mail client would.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline.alerts.settings import AlertRule, AlertSettings
from pipeline.models import AccountRisk, Contact, Evidence, Post, ScoredPost, Verdict
from pipeline.store.es_settings import ElasticsearchSettings

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
AD = "专业代理全额退保，不成功不收费，加威信 tb2026 私聊"


def es_settings(url: str) -> ElasticsearchSettings:
    """osmem refuses the official client's vendor media type: compat = "opensearch"."""
    return ElasticsearchSettings(hosts=[url], compat="opensearch", request_timeout=10.0, retries=1)


def scored(
    post_id: str,
    text: str = AD,
    *,
    author: str | None = "u1",
    platform: str = "weibo",
    score: float = 0.95,
    flagged: bool = True,
    categories: Sequence[str] = ("surrender",),
    phrases: Sequence[str] = ("全额退保", "不成功不收费"),
    contact: str | None = "tb2026",
    author_name: str | None = None,
    url: str | None = None,
) -> ScoredPost:
    evidence = []
    for phrase in phrases:
        start = text.index(phrase)
        evidence.append(
            Evidence(start=start, end=start + len(phrase), text=phrase, feature="phrase")
        )
    contacts = []
    if contact is not None:
        start = text.index(contact)
        contacts.append(
            Contact(
                kind="wechat",
                value=contact,
                start=start,
                end=start + len(contact),
                canonical=f"wechat:{contact}",
            )
        )
    post = Post(
        platform=platform,
        post_id=post_id,
        text=text,
        author_id=author,
        author_name=author_name or (f"name-{author}" if author else None),
        url=url or f"https://{platform}.example/{post_id}",
        created_at=NOW,
    )
    verdict = Verdict(
        flagged=flagged,
        score=score,
        categories=list(categories) if flagged else [],
        evidence=evidence,
        contacts=contacts,
        reasons=["命中: 全额退保"] if flagged else [],
    )
    return ScoredPost(post=post, verdict=verdict)


def risk(
    account_id: str = "u1",
    *,
    platform: str = "weibo",
    score: float = 0.95,
    flagged: bool = True,
    categories: Sequence[str] = ("surrender",),
    nickname: str | None = None,
) -> AccountRisk:
    return AccountRisk(
        platform=platform,
        account_id=account_id,
        nickname=nickname or f"name-{account_id}",
        score=score,
        flagged=flagged,
        categories=list(categories) if flagged else [],
        contacts=["wechat:tb2026"] if flagged else [],
        reasons=["多条帖子命中代理退保话术"] if flagged else [],
    )


def rule(name: str = "high_risk", **values: Any) -> AlertRule:
    values.setdefault("recipients", ["compliance@example.org"])
    values.setdefault("min_score", 0.9)
    return AlertRule(name=name, **values)


def alert_settings(
    port: int = 2525, rules: Sequence[AlertRule] = (), **values: Any
) -> AlertSettings:
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "radar@example.org"}
    smtp.update(values.pop("smtp", {}))
    return msgspec.convert(
        {"rules": [msgspec.to_builtins(r) for r in rules], "smtp": smtp, **values},
        AlertSettings,
    )


@dataclass
class _Handler:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpCapture:
    """aiosmtpd on ``127.0.0.1:port``; ``credentials`` turns on AUTH (without TLS, as a
    loopback relay would)."""

    def __init__(
        self,
        port: int,
        credentials: tuple[str, str] | None = None,
        refuse: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.port = port
        self.handler = _Handler(refuse=set(refuse))
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {}
        if credentials is not None:
            user, password = credentials

            def authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and auth_data.login.decode() == user
                    and auth_data.password.decode() == password
                )
                if ok:
                    self.logins.append(user)
                return AuthResult(success=ok, handled=False)

            kwargs = {"authenticator": authenticate, "auth_require_tls": False}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **kwargs)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> SmtpCapture:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded (text, html) bodies of a multipart/alternative message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()
