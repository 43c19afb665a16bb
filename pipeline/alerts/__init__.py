"""Alerts: rules over stored batches, an outbox, and delivery by e-mail or webhook.

Import-light on purpose: :mod:`pipeline.config` imports the settings from here, so this
package's ``__init__`` loads only the settings, models and rules; the outbox, channels
and service (aiosmtplib, httpx, jinja2, the Elasticsearch client) load when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.alerts.rules import evaluate
from pipeline.alerts.settings import AlertRule, AlertSettings, SmtpSettings, WebhookSettings
from pipeline.models import Alert, AlertStatus, DeliveryReport, Excerpt, Span

if TYPE_CHECKING:
    from pipeline.alerts.outbox import Outbox, open_outbox
    from pipeline.alerts.sender import AlertSender
    from pipeline.alerts.service import AlertService, build_alerts

_LAZY = {
    "Outbox": "pipeline.alerts.outbox",
    "open_outbox": "pipeline.alerts.outbox",
    "AlertSender": "pipeline.alerts.sender",
    "AlertService": "pipeline.alerts.service",
    "build_alerts": "pipeline.alerts.service",
}

__all__ = [
    "Alert",
    "AlertRule",
    "AlertSender",
    "AlertService",
    "AlertSettings",
    "AlertStatus",
    "DeliveryReport",
    "Excerpt",
    "Outbox",
    "SmtpSettings",
    "Span",
    "WebhookSettings",
    "build_alerts",
    "evaluate",
    "open_outbox",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pipeline.alerts' has no attribute {name!r}")
