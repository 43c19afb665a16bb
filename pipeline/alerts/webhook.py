"""The webhook channel: the alert as JSON, POSTed to ``[alerts.webhook] url``.

For chat bots and ticket systems (DingTalk, WeCom, Feishu bridges, a SIEM). The body is
the recorded alert plus the dashboard link; the ``Idempotency-Key`` header is the alert
id's digest, so a receiver can drop the rare repeat after a crash. The client comes from
outside (tests hand in one on a loopback server), like every other HTTP client here.
"""

from __future__ import annotations

import hashlib

import httpx
import msgspec

from pipeline.alerts.mail import PermanentDeliveryError, dashboard_link
from pipeline.alerts.settings import AlertSettings
from pipeline.models import Alert

# Client errors a retry cannot fix; 408 (timeout) and 429 (slow down) are worth one.
_RETRYABLE_4XX = {408, 425, 429}


def payload(alert: Alert, settings: AlertSettings) -> bytes:
    body = msgspec.to_builtins(alert)
    body["dashboard_link"] = dashboard_link(alert, settings)
    return msgspec.json.encode(body)


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: AlertSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._owns_client = client is None

    async def deliver(self, alert: Alert) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.webhook.timeout_seconds)
        response = await self._client.post(
            self.settings.webhook.url,
            content=payload(alert, self.settings),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": hashlib.sha256(alert.id.encode()).hexdigest()[:32],
            },
        )
        status = response.status_code
        if 400 <= status < 500 and status not in _RETRYABLE_4XX:
            raise PermanentDeliveryError(f"webhook answered {status}")
        if status >= 300:
            raise RuntimeError(f"webhook answered {status}")

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
