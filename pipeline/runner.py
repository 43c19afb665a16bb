"""The embedded runner: collectors → detect → aggregate + store, as asyncio tasks.

Queues are bounded so a fast source waits for the detector and the store instead of
filling memory (back-pressure). Each page's posts are followed down the queues by a
checkpoint marker; the writer commits the marker in the same transaction as the posts
before it, so the checkpoint never runs ahead of durable posts (at-least-once), and the
store's upserts on post / account keys make the repeats after a crash harmless
(exactly-once results).

Sources fail in three ways, told apart by :func:`collectors.health.run_failed`: a
platform's risk-control answer puts the source into a cool-down (its scheduled runs are
skipped until it ends), a malformed response is counted and logged once with a sample,
anything else marks it failing; in every case the pages already handed on keep their
checkpoints, and the other sources go on. Health and run history are saved beside the
store (:mod:`pipeline.store.health_log`) for ``radar sources`` and across restarts.

Stopping drains: the scheduler stops, in-flight collections are cancelled (their partial
pages will be re-read after restart), and the queues are emptied into the store before
the last checkpoint is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from collectors.base import Collector, CollectorContext, SourceSettings
from collectors.health import DEFAULT_COOLDOWN_SECONDS, SourceHealth, bad_response, run_failed
from collectors.http import HttpSourceSettings
from collectors.recheck import Check, RecheckReport, checker_for, recheck_accounts
from collectors.registry import build_collector
from collectors.scheduler import build_scheduler
from detectors import Detector
from pipeline.alerts.service import AlertService, build_alerts
from pipeline.config import Settings
from pipeline.models import (
    AccountFact,
    AccountRisk,
    Post,
    Reject,
    Review,
    ReviewStatus,
    ScoredPost,
    SourceState,
    account_review_target,
)
from pipeline.rings.facts import store_sink
from pipeline.rings.schedule import add_rings_job, rings_run_here, run_scheduled_rings
from pipeline.stages import Deduper, fold_accounts, score_posts
from pipeline.store.base import Store
from pipeline.store.health_log import HealthLog, health_log_for, record_run, restore_health
from pipeline.takedown.schedule import add_takedown_job, takedown_runs_here

log = logging.getLogger("radar.runner")

__all__ = ["Counters", "Runner", "SourceHealth"]

_STOP = object()
_ACCOUNT_CACHE_SIZE = 100_000
_REJECT_LOG_LIMIT = 20
RECHECK_INTERVAL_SECONDS = 6 * 3600.0


class _Mark(msgspec.Struct):
    """Checkpoint marker: travels behind its page's posts."""

    state: SourceState


@dataclass
class Counters:
    collected: int = 0
    rejected: int = 0
    truncated: int = 0
    duplicates: int = 0
    scored: int = 0
    flagged: int = 0
    written: int = 0
    batches: int = 0
    store_errors: int = 0


class Runner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        detector: Detector,
        sources: Sequence[SourceSettings],
        *,
        context: CollectorContext | None = None,
        health_log: HealthLog | None = None,
        alerts: AlertService | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.detector = detector
        self.sources = {source.name: source for source in sources if source.enabled}
        self.counters = Counters()
        self.health = {
            name: SourceHealth(kind=str(source.__struct_config__.tag))
            for name, source in self.sources.items()
        }
        self.health_log = health_log if health_log is not None else health_log_for(store)
        # Alert rules run on every stored batch; None when alerts are off (the default).
        self.alerts = alerts if alerts is not None else build_alerts(settings, store)
        self._alerts_stop = asyncio.Event()
        self._alerts_task: asyncio.Task[None] | None = None
        context = context or CollectorContext(
            tz=settings.tz, max_text_chars=settings.stream.max_text_chars
        )
        self._collectors: dict[str, Collector] = {
            name: build_collector(source, context) for name, source in self.sources.items()
        }
        size = settings.stream.queue_size
        self._detect_q: asyncio.Queue[object] = asyncio.Queue(maxsize=size)
        self._write_q: asyncio.Queue[object] = asyncio.Queue(maxsize=size)
        self._states: dict[str, SourceState] = {}
        self._accounts: OrderedDict[str, AccountRisk] = OrderedDict()
        self._deduper = Deduper()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[Any]] = set()
        self._scheduler = None
        self._stopping = False
        # Called with every post once it is stored (``radar collect --once`` prints them).
        self.tap: Callable[[ScoredPost], None] | None = None
        self.started_at = time.monotonic()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, *, schedule: bool = True) -> None:
        for state in await self.store.list_sources():
            self._states[state.name] = state
        await restore_health(self.health_log, self.health)
        if self.alerts is not None:
            await self.alerts.open()
            self._alerts_task = asyncio.create_task(
                self.alerts.run(self._alerts_stop), name="radar-alerts"
            )
        self._tasks = [
            asyncio.create_task(self._detect_loop(), name="radar-detect"),
            asyncio.create_task(self._write_loop(), name="radar-write"),
        ]
        jobs = takedown_runs_here(self.settings) or rings_run_here(self.settings)
        if schedule and (self.sources or jobs):
            # Push sources (``ingest``) have nothing to poll.
            polled = [
                source
                for name, source in self.sources.items()
                if not getattr(self._collectors[name], "push", False)
            ]
            self._scheduler = build_scheduler(polled, self.collect_once, self.settings.tz)
            if self._checkers():
                self._scheduler.add_job(
                    self.recheck_once,
                    "interval",
                    seconds=RECHECK_INTERVAL_SECONDS,
                    id="recheck",
                    name="recheck reported accounts",
                    max_instances=1,
                    coalesce=True,
                )
            if takedown_runs_here(self.settings):
                add_takedown_job(self._scheduler, self.store, self.settings)
            if rings_run_here(self.settings):  # first run shortly after start
                add_rings_job(self._scheduler, self.store, self.settings, self.submit_facts)
            self._scheduler.start()
        log.info(
            "runner started: %d source(s): %s",
            len(self.sources),
            ", ".join(self.sources) or "none",
        )

    async def stop(self) -> None:
        """Stop collecting, drain the queues into the store, write the last checkpoints."""
        if self._stopping:
            return
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._detect_q.put(_STOP)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.alerts is not None:
            # After the drain: the last batches' alerts are recorded; what is still
            # pending is delivered by the next run's sender.
            self._alerts_stop.set()
            if self._alerts_task is not None:
                await asyncio.gather(self._alerts_task, return_exceptions=True)
            await self.alerts.close()
        for collector in self._collectors.values():
            await collector.aclose()
        log.info(
            "runner stopped: %d collected, %d flagged, %d written",
            self.counters.collected,
            self.counters.flagged,
            self.counters.written,
        )

    async def collect_once(self, name: str, *, force: bool = False) -> int:
        """Run one source now, from its last handed-on cursor; returns posts handed on.

        A source cooling down after risk control is skipped unless ``force``. Whatever
        goes wrong, the pages already handed on keep their checkpoints: the error only
        ends this run (and, for risk control, starts a cool-down)."""
        collector = self._collectors[name]
        health = self.health[name]
        task = asyncio.current_task()
        if self._stopping or task is None:
            return 0
        if health.cooling() and not force:
            health.skipped += 1
            log.debug("source %s: cooling down until %s", name, health.cooldown_until)
            return 0
        self._inflight.add(task)  # stop() cancels it, whoever started it
        health.started()
        handed = rejected = 0
        outcome = "ok"
        try:
            state = self._states.get(name) or SourceState(name=name)
            async for page in collector.fetch(state.cursor):
                handed += await self._hand_on(name, page.posts, page.rejects, page.cursor)
                rejected += len(page.rejects)
            health.succeeded()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failing source must never take the monitor down
            outcome, reject = run_failed(name, health, exc, self._cooldown_base(name))
            if reject is not None:
                rejected += 1
                await self.store.record_rejects([reject])
        finally:
            health.running = False
            self._inflight.discard(task)
        await record_run(self.health_log, name, health, outcome, handed, rejected)
        return handed

    async def _hand_on(
        self, name: str, posts: Sequence[Post], rejects: Sequence[Reject], cursor: str | None
    ) -> int:
        """Queue posts, then the checkpoint marker that follows them into the store."""
        await self._report_rejects(name, list(rejects))
        for post in posts:
            if post.truncated:
                self.counters.truncated += 1
            await self._detect_q.put(post)
        self.counters.collected += len(posts)
        previous = self._states.get(name) or SourceState(name=name)
        state = SourceState(
            name=name,
            cursor=cursor,
            updated_at=datetime.now(UTC),
            posts_total=previous.posts_total + len(posts),
            bad_records=previous.bad_records + len(rejects),
        )
        self._states[name] = state
        await self._detect_q.put(_Mark(state))
        return len(posts)

    async def ingest(self, name: str, posts: Sequence[Post], rejects: Sequence[Reject]) -> None:
        """Posts pushed to ``POST /api/ingest`` for the ``ingest`` source ``name``."""
        if self._stopping or name not in self.health:
            raise KeyError(name)  # the API answers 503: try again after the restart
        health = self.health[name]
        health.started()
        previous = self._states.get(name)
        await self._hand_on(name, posts, rejects, previous.cursor if previous else None)
        health.running = False
        health.succeeded()
        await record_run(self.health_log, name, health, "ok", len(posts), len(rejects))

    def _cooldown_base(self, name: str) -> float:
        return float(getattr(self.sources[name], "cooldown_seconds", DEFAULT_COOLDOWN_SECONDS))

    def _checkers(self) -> dict[str, list[Check]]:
        """Platform → the account checks its (non-cooling) sources can make."""
        checkers: dict[str, list[Check]] = {}
        for name, collector in self._collectors.items():
            check = checker_for(collector)
            if check is None or self.health[name].cooling():
                continue
            source = self.sources[name]
            platform = getattr(source, "platform", None) or str(source.__struct_config__.tag)
            checkers.setdefault(platform, []).append(check)
        return checkers

    async def recheck_once(self) -> RecheckReport:
        """Ask the platforms about every ``reported`` account; gone ones → taken_down."""

        async def mark(key: str) -> None:
            review = Review(
                target=account_review_target(key),
                status=ReviewStatus.TAKEN_DOWN,
                note="recheck: the platform says the account or its posts are gone",
                reviewer="radar-recheck",
                at=datetime.now(UTC),
            )
            await self.store.set_review(review)

        keys = await self.store.reported_accounts()
        return await recheck_accounts(keys, self._checkers(), mark)

    async def run_sources_once(self) -> None:
        """Collect every source once and wait until everything is stored (``radar import``),
        then link the stored accounts into rings, so an import ends with its rings."""
        for name in self.sources:
            await self.collect_once(name)
        await self.stop()
        if rings_run_here(self.settings):
            await run_scheduled_rings(self.store, self.settings, self.submit_facts)

    async def submit_facts(self, facts: Sequence[AccountFact]) -> None:
        """The ring job's account facts: folded by the writer with the posts it stores
        (the writer owns the account cache, so nothing else may write an account while
        it runs); once the runner has stopped, applied to the store directly."""
        if self._stopping or not self._tasks:
            await store_sink(self.store)(facts)
            return
        for fact in facts:
            await self._write_q.put(fact)

    # -- stages ----------------------------------------------------------------------

    async def _detect_loop(self) -> None:
        batch_size = self.settings.stream.batch_size
        while True:
            items = [await self._detect_q.get()]
            while len(items) < batch_size and not self._detect_q.empty():
                items.append(self._detect_q.get_nowait())
            stop = items[-1] is _STOP
            if stop:
                items.pop()
            fresh = [i for i in items if isinstance(i, Post) and self._deduper.is_new(i)]
            self.counters.duplicates += sum(isinstance(i, Post) for i in items) - len(fresh)
            scored = iter(score_posts(self.detector, fresh))
            self.counters.scored += len(fresh)
            for item in items:
                if isinstance(item, Post):
                    if fresh and item is fresh[0]:
                        fresh.pop(0)
                        result = next(scored)
                        self.counters.flagged += result.verdict.flagged
                        await self._write_q.put(result)
                else:
                    await self._write_q.put(item)
            if stop:
                await self._write_q.put(_STOP)
                return
            await asyncio.sleep(0)  # let collectors and the dashboard breathe

    async def _write_loop(self) -> None:
        batch_size = self.settings.stream.batch_size
        stop = False
        while not stop:
            items = [await self._write_q.get()]
            while len(items) < batch_size and not self._write_q.empty():
                items.append(self._write_q.get_nowait())
            if items[-1] is _STOP:
                items.pop()
                stop = True
            if items:
                await self._flush(items)

    async def _flush(self, items: list[object]) -> None:
        posts = [item for item in items if isinstance(item, ScoredPost)]
        facts = [item for item in items if isinstance(item, AccountFact)]
        marks: dict[str, SourceState] = {}
        for item in items:
            if isinstance(item, _Mark):
                marks[item.state.name] = item.state  # the latest mark per source wins
        keys = {scored.post.account_key for scored in posts} | {f.account_key for f in facts}
        before = await self._account_states(keys)
        accounts = fold_accounts(posts, before, facts)
        delay = 0.5
        while True:
            try:
                await self.store.write_batch(posts, list(accounts.values()), list(marks.values()))
                break
            except Exception as exc:
                self.counters.store_errors += 1
                log.error("store write failed (%s); retrying in %.1fs", exc, delay)
                if self._stopping and self.counters.store_errors > 3:
                    log.error("giving up on %d posts; they will be re-read on restart", len(posts))
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        for key, risk in accounts.items():
            self._remember_account(key, risk)
        if self.alerts is not None:
            await self._record_alerts(before, list(accounts.values()), posts)
        if self.tap is not None:
            for scored in posts:
                self.tap(scored)
        self.counters.written += len(posts)
        self.counters.batches += 1

    async def _record_alerts(
        self, before: dict[str, AccountRisk], after: list[AccountRisk], posts: list[ScoredPost]
    ) -> None:
        """Record the batch's alerts in the outbox (it is durable already). A few quick
        retries; an outbox that stays down costs these alerts, never the pipeline."""
        assert self.alerts is not None
        delay = 0.5
        for attempt in range(1, 4):
            try:
                await self.alerts.after_write(before, after, posts)
                return
            except Exception as exc:
                if attempt == 3:
                    log.error("cannot record alerts for %d posts: %s", len(posts), exc)
                    return
                log.warning("recording alerts failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay *= 2

    async def _account_states(self, keys: set[str | None]) -> dict[str, AccountRisk]:
        states = {key: self._accounts[key] for key in keys if key in self._accounts}
        missing = [key for key in keys if key not in states and key is not None]
        if missing:
            states.update(await self.store.get_accounts(missing))
        return states

    def _remember_account(self, key: str, risk: AccountRisk) -> None:
        self._accounts[key] = risk
        self._accounts.move_to_end(key)
        if len(self._accounts) > _ACCOUNT_CACHE_SIZE:
            self._accounts.popitem(last=False)

    async def _report_rejects(self, name: str, rejects: list[Reject]) -> None:
        if not rejects:
            return
        self.counters.rejected += len(rejects)
        health = self.health[name]
        http_source = isinstance(self.sources.get(name), HttpSourceSettings)
        for reject in rejects:
            if http_source and reject.sample:
                bad_response(name, health, reject)  # the crawl went on; counted, logged once
                continue
            if health.rejects_logged < _REJECT_LOG_LIMIT:
                log.warning("source %s: %s: %s", name, reject.location, reject.reason)
            elif health.rejects_logged == _REJECT_LOG_LIMIT:
                log.warning("source %s: more bad records; see `radar sources`", name)
            health.rejects_logged += 1
        await self.store.record_rejects(rejects)

    # -- status ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        sources = []
        now = datetime.now(UTC)
        for name, health in self.health.items():
            state = self._states.get(name)
            sources.append(
                {
                    "name": name,
                    **health.snapshot(now),
                    "cursor": state.cursor if state else None,
                    "posts_total": state.posts_total if state else 0,
                    "bad_records": state.bad_records if state else 0,
                }
            )
        return {
            "uptime_seconds": round(time.monotonic() - self.started_at, 1),
            "counters": asdict(self.counters),
            "queues": {"detect": self._detect_q.qsize(), "write": self._write_q.qsize()},
            "detector_version": self.detector.version,
            "sources": sources,
        }

    async def status_async(self) -> dict[str, Any]:
        """:meth:`status` plus posts collected per source in the last hour and day."""
        status = self.status()
        now = datetime.now(UTC)
        try:
            hour = await self.health_log.posts_since(now - timedelta(hours=1))
            day = await self.health_log.posts_since(now - timedelta(days=1))
        except Exception as exc:
            log.warning("cannot read source history: %s", exc)
            return status
        for source in status["sources"]:
            source["posts_last_hour"] = hour.get(source["name"], 0)
            source["posts_last_day"] = day.get(source["name"], 0)
        return status

    def progress_line(self) -> str:
        c = self.counters
        return (
            f"collected {c.collected}, flagged {c.flagged}, stored {c.written}, "
            f"bad records {c.rejected}, queued {self._detect_q.qsize()}+{self._write_q.qsize()}"
        )
