"""Delivery: take what the outbox says is due, hand each alert to its channel, and record
the outcome: sent, a retry after an exponential backoff, or failed for good (a permanent
refusal, or ``max_attempts`` used up).

The sender never raises for one alert's trouble: a bad address or a dead server costs
that alert an attempt, and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pipeline.alerts.mail import PermanentDeliveryError
from pipeline.alerts.outbox import Outbox
from pipeline.alerts.settings import STEPS_PER_SEND, AlertSettings
from pipeline.models import Alert, DeliveryReport

log = logging.getLogger("radar.alerts")
PASS_LIMIT = 500


class Channel(Protocol):
    name: str

    async def deliver(self, alert: Alert) -> None:
        """Deliver or raise: :class:`PermanentDeliveryError` when a retry cannot help."""


def backoff(settings: AlertSettings, attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: base, 2×base, 4×base, …
    capped at ``retry_max_seconds``."""
    seconds = settings.retry_base_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.retry_max_seconds))


class AlertSender:
    def __init__(
        self, settings: AlertSettings, outbox: Outbox, channels: Mapping[str, Channel]
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.channels = dict(channels)

    @property
    def claim_size(self) -> int:
        """Alerts claimed at a time: few enough that even failing slowly (every SMTP step
        timing out) they are done before their lease ends, so no other sender can take
        one of them over while it is still being sent."""
        return max(1, int(self.settings.lease_seconds // (STEPS_PER_SEND * self._timeout)))

    @property
    def _timeout(self) -> float:
        return max(self.settings.smtp.timeout_seconds, self.settings.webhook.timeout_seconds)

    async def deliver_due(
        self, now: datetime | None = None, limit: int = PASS_LIMIT
    ) -> DeliveryReport:
        """One pass: claim due alerts a few at a time and deliver them, up to ``limit``.
        ``now`` fixes the clock (tests); by default each claim reads the time."""
        report = DeliveryReport()
        handled = 0
        while handled < limit:
            at = now or datetime.now(UTC)
            batch = await self.outbox.due(at, min(self.claim_size, limit - handled))
            if not batch:
                break
            for alert in batch:
                await self._deliver(alert, at, report)
            handled += len(batch)
        return report

    async def _deliver(self, alert: Alert, now: datetime, report: DeliveryReport) -> None:
        channel = self.channels.get(alert.channel)
        attempts = alert.attempts + 1
        try:
            if channel is None:
                raise RuntimeError(f"channel {alert.channel!r} is not configured")
            await channel.deliver(alert)
        except PermanentDeliveryError as exc:
            await self.outbox.mark_failed(alert.id, str(exc), None)
            report.failed += 1
            log.error("alert %s: refused, not retried: %s", alert.id, exc)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempts >= self.settings.max_attempts:
                await self.outbox.mark_failed(alert.id, error, None)
                report.failed += 1
                log.error("alert %s: failed after %d attempts: %s", alert.id, attempts, error)
                return
            retry_at = now + backoff(self.settings, attempts)
            await self.outbox.mark_failed(alert.id, error, retry_at)
            report.retrying += 1
            log.warning(
                "alert %s: attempt %d failed (%s); retry at %s",
                alert.id,
                attempts,
                error,
                retry_at.isoformat(),
            )
            return
        await self.outbox.mark_sent(alert.id, now)
        report.sent += 1
        log.info("alert %s sent by %s", alert.id, alert.channel)
