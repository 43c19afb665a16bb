"""The outbox as the ``{prefix}-alerts`` index on the store's Elasticsearch cluster.

Several faust workers share it, so every state change that two of them could race on is
a conditional write, never a read-modify-write taken on trust:

- :meth:`record` creates ``dedupe_key#channel#n+1`` with a bulk ``create``: if another
  worker recorded the same slot first, the create conflicts (409) and this one skips;
- :meth:`due` claims each hit with ``if_seq_no`` / ``if_primary_term``: a worker that
  lost the race gets a conflict and leaves the alert to the winner.

Records and status changes wait for the refresh (``refresh="wait_for"``) so the next
:meth:`record`, :meth:`list` or :meth:`counts` sees them; a claim does not need to (see
:meth:`due`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from elasticsearch import AsyncElasticsearch, BadRequestError, ConflictError, NotFoundError

from pipeline.alerts.outbox import (
    DEFAULT_LEASE_SECONDS,
    empty_counts,
    fresh_alert,
    short_error,
    slot_of,
    still_quiet,
    utc,
)
from pipeline.models import Alert, AlertStatus, ReviewStatus
from pipeline.store.es_errors import StoreUnavailable, StoreWriteError, guard
from pipeline.store.es_mappings import fixed_index, iso
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.store.es_transport import RETRY_STATUSES, make_client

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "slot": _KEYWORD,  # dedupe_key#channel
        "dedupe_key": _KEYWORD,
        "channel": _KEYWORD,
        "seq": {"type": "long"},
        "rule": _KEYWORD,
        "kind": _KEYWORD,
        "account_key": _KEYWORD,
        "platform": _KEYWORD,
        "score": {"type": "double"},
        "status": _KEYWORD,
        "attempts": {"type": "integer"},
        "created_at": _DATE,
        "next_attempt_at": _DATE,
        "sent_at": _DATE,
        "last_error": {"type": "text", "index": False},
        "alert": {"type": "object", "enabled": False},  # the Alert as recorded
    },
}
_MAX_LIST = 10_000


class ElasticsearchOutbox:
    """:class:`pipeline.alerts.outbox.Outbox` on an Elasticsearch (or compatible) index.

    ``client``: the store's open client (shared, not closed here); without one the outbox
    makes and owns its own from ``settings``."""

    def __init__(
        self,
        settings: ElasticsearchSettings,
        *,
        client: AsyncElasticsearch | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.settings = settings
        self.index = fixed_index(settings.index_prefix, "alerts")
        self.reviews_index = fixed_index(settings.index_prefix, "reviews")
        self.lease = timedelta(seconds=lease_seconds)
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> AsyncElasticsearch:
        if self._client is None:
            raise RuntimeError("ElasticsearchOutbox is not open")
        return self._client

    async def open(self) -> None:
        if self._client is None:
            self._client = make_client(self.settings)
        with guard("open alerts"):
            if await self.client.indices.exists(index=self.index):
                return
            try:
                await self.client.indices.create(index=self.index, mappings=MAPPINGS)
            except BadRequestError as exc:  # another worker created it first
                if exc.error != "resource_already_exists_exception":
                    raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.close()

    # -- the protocol ----------------------------------------------------------------

    async def record(self, alerts: Sequence[Alert], now: datetime) -> list[Alert]:
        """One aggregation for the slots' newest alerts, one ``_bulk`` of creates (a
        burst of alerts costs two requests and one refresh wait, not one per alert)."""
        now = utc(now)
        if not alerts:
            return []
        with guard("record alerts"):
            newest = await self._newest({slot_of(a) for a in alerts})
            pending: list[tuple[Alert, int]] = []
            for alert in alerts:
                slot = slot_of(alert)
                seq, created = newest.get(slot, (0, None))
                if still_quiet(alert, created, now):
                    continue
                fresh = fresh_alert(alert, seq + 1, now)
                newest[slot] = (seq + 1, now)  # the same slot twice in one call
                pending.append((fresh, seq + 1))
            if not pending:
                return []
            operations: list[dict[str, Any]] = []
            for fresh, seq in pending:
                operations.append({"create": {"_index": self.index, "_id": fresh.id}})
                operations.append(self._doc(fresh, seq))
            resp = await self.client.bulk(operations=operations, refresh="wait_for")
        recorded: list[Alert] = []
        for (fresh, _), item in zip(pending, resp["items"], strict=True):
            status = int(item["create"]["status"])
            if status in (200, 201):
                recorded.append(fresh)
            elif status != 409:  # 409: another worker recorded this slot's next alert first
                error = f"Elasticsearch refused alert {fresh.id}: {item['create'].get('error')}"
                # What was created stays; the caller's retry finds it and skips it.
                if status in RETRY_STATUSES:
                    raise StoreUnavailable(error)
                raise StoreWriteError(error)
        return recorded

    async def _newest(self, slots: set[str]) -> dict[str, tuple[int, datetime]]:
        """Slot → (highest seq, newest created_at) of the alerts already recorded."""
        resp = await self.client.search(
            index=self.index,
            size=0,
            query={"terms": {"slot": sorted(slots)}},
            aggs={
                "slots": {
                    "terms": {"field": "slot", "size": len(slots)},
                    "aggs": {
                        "seq": {"max": {"field": "seq"}},
                        "at": {"max": {"field": "created_at"}},
                    },
                }
            },
        )
        out: dict[str, tuple[int, datetime]] = {}
        for bucket in resp["aggregations"]["slots"]["buckets"]:
            at = datetime.fromtimestamp(float(bucket["at"]["value"]) / 1000, UTC)
            out[str(bucket["key"])] = (int(bucket["seq"]["value"]), at)
        return out

    @staticmethod
    def _doc(alert: Alert, seq: int) -> dict[str, Any]:
        return {
            "id": alert.id,
            "slot": slot_of(alert),
            "dedupe_key": alert.dedupe_key,
            "channel": alert.channel,
            "seq": seq,
            "rule": alert.rule,
            "kind": alert.kind,
            "account_key": alert.account_key,
            "platform": alert.platform,
            "score": alert.score,
            "status": str(alert.status),
            "attempts": alert.attempts,
            "created_at": iso(alert.created_at),
            "next_attempt_at": iso(alert.next_attempt_at),
            "sent_at": None,
            "last_error": None,
            "alert": msgspec.to_builtins(alert),
        }

    async def due(self, now: datetime, limit: int = 50) -> list[Alert]:
        now = utc(now)
        if limit <= 0:
            return []
        claimed: list[Alert] = []
        with guard("due alerts"):
            resp = await self.client.search(
                index=self.index,
                query={
                    "bool": {
                        "filter": [
                            {"term": {"status": str(AlertStatus.PENDING)}},
                            {"range": {"next_attempt_at": {"lte": iso(now)}}},
                        ]
                    }
                },
                sort=[{"next_attempt_at": "asc"}, {"id": "asc"}],
                size=limit,
                seq_no_primary_term=True,
            )
            lease_end = iso(now + self.lease)
            for hit in resp["hits"]["hits"]:
                try:
                    await self.client.update(
                        index=self.index,
                        id=hit["_id"],
                        doc={"next_attempt_at": lease_end},
                        if_seq_no=hit["_seq_no"],
                        if_primary_term=hit["_primary_term"],
                        # No refresh wait: a search that still shows the old version
                        # carries the old seq_no, so its claim conflicts and is skipped.
                    )
                except ConflictError:  # another sender claimed (or changed) it
                    continue
                claimed.append(self._alert(hit["_source"]))
        return claimed

    async def mark_sent(self, alert_id: str, now: datetime) -> None:
        await self._change(
            alert_id,
            lambda src: {
                "status": str(AlertStatus.SENT),
                "sent_at": iso(utc(now)),
                "attempts": int(src.get("attempts") or 0) + 1,
                "next_attempt_at": None,
                "last_error": None,
            },
        )

    async def mark_failed(
        self, alert_id: str, error: str, next_attempt_at: datetime | None
    ) -> None:
        status = AlertStatus.PENDING if next_attempt_at is not None else AlertStatus.FAILED
        await self._change(
            alert_id,
            lambda src: {
                "status": str(status),
                "attempts": int(src.get("attempts") or 0) + 1,
                "next_attempt_at": iso(next_attempt_at),
                "last_error": short_error(error),
            },
        )

    async def _change(self, alert_id: str, fields: Any) -> None:
        """Read, then write conditionally on what was read (retried on a conflict)."""
        with guard("update alert"):
            for _ in range(5):
                try:
                    current = await self.client.get(index=self.index, id=alert_id)
                except NotFoundError:
                    return
                try:
                    await self.client.update(
                        index=self.index,
                        id=alert_id,
                        doc=fields(current["_source"]),
                        if_seq_no=current["_seq_no"],
                        if_primary_term=current["_primary_term"],
                        refresh="wait_for",
                    )
                    return
                except ConflictError:
                    continue
            raise RuntimeError(f"alert {alert_id}: kept changing under this update")

    async def list(self, status: AlertStatus | str | None = None, limit: int = 100) -> list[Alert]:
        query: dict[str, Any] = (
            {"match_all": {}} if status is None else {"term": {"status": str(AlertStatus(status))}}
        )
        with guard("list alerts"):
            resp = await self.client.search(
                index=self.index,
                query=query,
                sort=[{"created_at": "desc"}, {"id": "desc"}],
                size=max(0, min(int(limit), _MAX_LIST)),
            )
        return [self._alert(hit["_source"]) for hit in resp["hits"]["hits"]]

    async def counts(self) -> dict[str, int]:
        with guard("count alerts"):
            resp = await self.client.search(
                index=self.index,
                size=0,
                aggs={"status": {"terms": {"field": "status", "size": 10}}},
            )
        counts = empty_counts()
        for bucket in resp["aggregations"]["status"]["buckets"]:
            counts[str(bucket["key"])] = int(bucket["doc_count"])
        return counts

    async def dismissed(self, targets: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(targets))
        if not wanted:
            return set()
        with guard("read reviews"):
            if not await self.client.indices.exists(index=self.reviews_index):
                return set()
            resp = await self.client.mget(index=self.reviews_index, ids=wanted)
        return {
            doc["_id"]
            for doc in resp["docs"]
            if doc.get("found") and doc["_source"].get("status") == str(ReviewStatus.DISMISSED)
        }

    @staticmethod
    def _alert(source: dict[str, Any]) -> Alert:
        alert = msgspec.convert(source["alert"], Alert)
        return msgspec.structs.replace(
            alert,
            status=AlertStatus(source["status"]),
            attempts=int(source.get("attempts") or 0),
            next_attempt_at=_date(source.get("next_attempt_at")),
            last_error=source.get("last_error"),
            sent_at=_date(source.get("sent_at")),
        )


def _date(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value)
