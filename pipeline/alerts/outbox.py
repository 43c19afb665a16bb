"""The alert outbox: alerts are recorded first and delivered later, with retries.

Why an outbox: a mail server that is down, slow or refusing must neither block the
pipeline nor lose an alert, and a batch delivered twice (at-least-once) must not alert
twice. So the runner only *records* (:meth:`Outbox.record`, idempotent) after its store
write, and a sender loop delivers what is due (:meth:`Outbox.due` claims, then
:meth:`Outbox.mark_sent` / :meth:`Outbox.mark_failed`).

The rules of the record, shared by both implementations:

- a *slot* is (``dedupe_key``, ``channel``); its alerts are numbered 1, 2, … and the
  alert id is ``dedupe_key#channel#n``;
- :meth:`record` skips an alert when its slot's newest alert was created within the
  alert's ``realert_hours`` of ``now``, so a replayed batch records nothing new, and a
  re-alert needs the window to pass;
- :meth:`due` *claims* what it returns (its ``next_attempt_at`` moves ``lease_seconds``
  ahead) so two senders, e.g. several faust workers, never deliver the same alert; an
  alert claimed by a sender that crashed is due again when the lease ends.

Implementations: :class:`pipeline.alerts.outbox_sqlite.SqliteOutbox` (a table in the
store's SQLite file) and :class:`pipeline.alerts.outbox_es.ElasticsearchOutbox` (the
``{prefix}-alerts`` index). Both also answer :meth:`dismissed` from the store's reviews,
because they hold a connection to the store's data anyway and the ``Store`` protocol has
no account-review lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec

from pipeline.models import Alert, AlertStatus

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.store.base import Store

DEFAULT_LEASE_SECONDS = 300.0
MAX_ERROR_CHARS = 500


@runtime_checkable
class Outbox(Protocol):
    async def open(self) -> None:
        """Create the table / index if needed (idempotent)."""

    async def close(self) -> None: ...

    async def record(self, alerts: Sequence[Alert], now: datetime) -> list[Alert]:
        """Record the alerts not already alerted within their re-alert window; returns
        those recorded (with their ``id``), pending and due at ``now``."""

    async def due(self, now: datetime, limit: int = 50) -> list[Alert]:
        """Pending alerts due at ``now``, oldest first, claimed for the lease."""

    async def mark_sent(self, alert_id: str, now: datetime) -> None: ...

    async def mark_failed(
        self, alert_id: str, error: str, next_attempt_at: datetime | None
    ) -> None:
        """Count a failed attempt: retry at ``next_attempt_at``, or ``failed`` for good
        when it is None."""

    async def list(self, status: AlertStatus | str | None = None, limit: int = 100) -> list[Alert]:
        """Newest first."""

    async def counts(self) -> dict[str, int]:
        """Alerts per status (every status present, zero included)."""

    async def dismissed(self, targets: Sequence[str]) -> set[str]:
        """The review targets (``account:…`` / post keys) an investigator dismissed."""


def utc(when: datetime) -> datetime:
    """Naive datetimes are UTC, as everywhere in the schema."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def slot_of(alert: Alert) -> str:
    return f"{alert.dedupe_key}#{alert.channel}"


def alert_id(alert: Alert, seq: int) -> str:
    return f"{slot_of(alert)}#{seq}"


def fresh_alert(alert: Alert, seq: int, now: datetime) -> Alert:
    """The ``seq``-th alert of its slot as recorded now: pending, never tried. The
    re-alert window runs from when it was recorded, not from when the rule fired."""
    return msgspec.structs.replace(
        alert,
        id=alert_id(alert, seq),
        created_at=now,
        status=AlertStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        sent_at=None,
    )


def still_quiet(alert: Alert, newest_created: datetime | None, now: datetime) -> bool:
    """True when the slot's newest alert is inside this alert's re-alert window."""
    if newest_created is None:
        return False
    return utc(newest_created) > utc(now) - timedelta(hours=alert.realert_hours)


def short_error(error: str) -> str:
    return " ".join(str(error).split())[:MAX_ERROR_CHARS]


def empty_counts() -> dict[str, int]:
    return {str(status): 0 for status in AlertStatus}


def open_outbox(
    settings: Settings, store: Store | None, *, lease_seconds: float | None = None
) -> Outbox:
    """The outbox beside the configured store: a table in the SQLite file, or the
    ``{prefix}-alerts`` index on the store's Elasticsearch cluster (reusing the store's
    client when it is open, else its own). Call :meth:`Outbox.open` before use."""
    lease = settings.alerts.lease_seconds if lease_seconds is None else lease_seconds
    if settings.store.kind == "elasticsearch":
        from pipeline.alerts.outbox_es import ElasticsearchOutbox

        client = None
        try:
            client = store.client  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError):  # another store, or not open yet
            client = None
        return ElasticsearchOutbox(settings.store.elasticsearch, client=client, lease_seconds=lease)
    from pipeline.alerts.outbox_sqlite import SqliteOutbox

    path = getattr(store, "path", None) or settings.sqlite_file
    return SqliteOutbox(path, lease_seconds=lease)
