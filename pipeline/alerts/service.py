"""The alerts seam the runners call: record after a store write, deliver in a loop.

Both runners do the same two things (the embedded :class:`pipeline.runner.Runner` does
them for you; a faust worker calls them itself):

1. after ``store.write_batch(posts, accounts)`` succeeded:
   ``await alerts.after_write(before, accounts, posts)``, with ``before`` the accounts'
   risk as read *before* the batch was folded in;
2. keep ``alerts.run(stop)`` running as a task (or call :meth:`AlertService.deliver_due`
   on a timer).

:func:`build_alerts` returns None when alerts are off (no rules, or no channel), so the
callers' wiring is ``if alerts is not None``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

import msgspec

from pipeline.alerts.mail import EmailChannel
from pipeline.alerts.outbox import Outbox, open_outbox
from pipeline.alerts.rules import evaluate
from pipeline.alerts.sender import AlertSender, Channel
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.webhook import WebhookChannel
from pipeline.models import AccountRisk, Alert, DeliveryReport, ScoredPost, account_review_target

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.store.base import Store

log = logging.getLogger("radar.alerts")


class AlertService:
    def __init__(
        self,
        settings: AlertSettings,
        outbox: Outbox,
        channels: Mapping[str, Channel],
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.channels = dict(channels)
        self.sender = AlertSender(settings, outbox, self.channels)
        self.recorded = 0
        self._wake = asyncio.Event()

    async def open(self) -> None:
        await self.outbox.open()

    async def close(self) -> None:
        for channel in self.channels.values():
            aclose = getattr(channel, "aclose", None)
            if aclose is not None:
                await aclose()
        await self.outbox.close()

    async def after_write(
        self,
        before: Mapping[str, AccountRisk | None],
        after: Iterable[AccountRisk],
        posts: Sequence[ScoredPost],
        now: datetime | None = None,
    ) -> list[Alert]:
        """Evaluate the rules on a stored batch and record what fires (idempotent: a
        replayed batch records nothing new). Returns the alerts recorded."""
        now = now or datetime.now(UTC)
        after = list(after)
        rules = self.settings.rules
        limit = self.settings.max_evidence
        found = evaluate(rules, before, after, posts, now, max_evidence=limit)
        if not found:
            return []
        dismissed = await self.outbox.dismissed(_review_targets(found))
        if dismissed:
            found = evaluate(
                rules, before, after, posts, now, dismissed=dismissed, max_evidence=limit
            )
        recorded = await self.outbox.record(self._per_channel(found), now)
        if recorded:
            self.recorded += len(recorded)
            self._wake.set()
            log.info("recorded %d alert(s): %s", len(recorded), ", ".join(a.id for a in recorded))
        return recorded

    def _per_channel(self, alerts: Iterable[Alert]) -> list[Alert]:
        """One outbox entry per channel, so a webhook failure never re-sends the mail."""
        webhook_rules = {rule.name for rule in self.settings.rules if rule.webhook}
        out: list[Alert] = []
        for alert in alerts:
            if alert.recipients and "email" in self.channels:
                out.append(msgspec.structs.replace(alert, channel="email"))
            if alert.rule in webhook_rules and "webhook" in self.channels:
                out.append(msgspec.structs.replace(alert, channel="webhook", recipients=[]))
        return out

    async def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        return await self.sender.deliver_due(now)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """The sender loop: deliver what is due every ``send_interval_seconds``, and at
        once after new alerts are recorded. Ends when ``stop`` is set (or on cancel)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception as exc:  # the outbox's store is down: try again next round
                log.warning("alert delivery pass failed: %s", exc)
            self._wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(
                    waits,
                    timeout=self.settings.send_interval_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiter in waits:
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter


def _review_targets(alerts: Iterable[Alert]) -> list[str]:
    targets: list[str] = []
    for alert in alerts:
        if alert.account_key:
            targets.append(account_review_target(alert.account_key))
        targets.extend(e.post_key for e in alert.evidence)
    return list(dict.fromkeys(targets))


def build_channels(settings: AlertSettings, *, tz: tzinfo = UTC) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if settings.email_enabled:
        channels["email"] = EmailChannel(settings, tz=tz)
    if settings.webhook_enabled:
        channels["webhook"] = WebhookChannel(settings)
    return channels


def build_alerts(settings: Settings, store: Store) -> AlertService | None:
    """The alert service beside ``store`` (SQLite table or Elasticsearch index), or None
    when alerts are off. Call :meth:`AlertService.open` after ``store.open()``."""
    alerts = settings.alerts
    if not alerts.enabled:
        return None
    if not alerts.email_enabled and any(r.recipients for r in alerts.rules):
        log.warning("alerts: rules have recipients but no [alerts.smtp] host; e-mail is off")
    return AlertService(
        alerts, open_outbox(settings, store), build_channels(alerts, tz=settings.tz)
    )
