"""Source health: healthy, cooling down after risk control, or failing.

Why a cool-down rather than retries: a platform's risk-control answer (Weibo 432,
Bilibili -352/-412, a captcha page) means "this client looks like a bot". Asking again
soon confirms it and can get cookies or addresses banned, so the source stops for
``cooldown_seconds × 2^(n-1)`` after its n-th consecutive risk-control answer (capped, and
never shorter than the platform's own ``Retry-After``), its scheduled runs are skipped
until then, and the operator sees one event per episode instead of a log flood.

The state is plain data (a dataclass) so the runner can show it in ``/api/status`` and
persist it for ``radar sources`` in another process; every message stored here has been
through :func:`collectors.http.scrub`, so it can be shown as is.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from collectors.http import RiskControlError, ShapeError, scrub
from pipeline.models import Reject

log = logging.getLogger("radar.runner")

MAX_COOLDOWN_SECONDS = 24 * 3600.0
DEFAULT_COOLDOWN_SECONDS = 600.0
MAX_EVENTS = 20
ERROR_CHARS = 300

State = Literal["healthy", "cooling", "failing"]


def cooldown_for(
    base_seconds: float,
    streak: int,
    retry_after: float | None = None,
    cap: float = MAX_COOLDOWN_SECONDS,
) -> float:
    """Seconds to stay away after the ``streak``-th consecutive risk-control answer."""
    grown = base_seconds * 2 ** max(0, streak - 1)
    return max(min(grown, max(cap, base_seconds)), retry_after or 0.0)


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when else None


def _parse(when: str | None) -> datetime | None:
    return datetime.fromisoformat(when) if when else None


@dataclass
class SourceHealth:
    """What the operator needs to know about one source; times are UTC ISO strings."""

    kind: str
    running: bool = False
    runs: int = 0
    skipped: int = 0
    last_run: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive failed runs of any kind
    risk_streak: int = 0  # consecutive risk-control answers
    cooldown_until: str | None = None
    shape_errors: int = 0
    rejects_logged: int = 0
    events: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    extra: dict[str, Any] = field(default_factory=dict)

    # -- state -----------------------------------------------------------------------

    def cooling(self, now: datetime | None = None) -> bool:
        until = _parse(self.cooldown_until)
        return until is not None and (now or datetime.now(UTC)) < until

    def state(self, now: datetime | None = None) -> State:
        if self.cooling(now):
            return "cooling"
        return "failing" if self.last_error else "healthy"

    def describe(self, now: datetime | None = None) -> str:
        """One line for terminals: ``healthy`` / ``cooling down until …`` / ``failing: …``."""
        state = self.state(now)
        if state == "cooling":
            return f"cooling down until {self.cooldown_until}: {self.last_error}"
        if state == "failing":
            return f"failing: {self.last_error}"
        return "healthy"

    # -- transitions -----------------------------------------------------------------

    def started(self, now: datetime | None = None) -> None:
        self.running = True
        self.runs += 1
        self.last_run = _iso(now or datetime.now(UTC))

    def succeeded(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        if self.last_error:
            self._event(now, "recovered", "collecting again")
        self.last_success = _iso(now)
        self.last_error = None
        self.failures = 0
        self.risk_streak = 0
        self.cooldown_until = None

    def failed(self, message: str, now: datetime | None = None) -> bool:
        """A run failed (network, HTTP, bug). True when this starts a failing episode,
        which is when the runner logs it."""
        now = now or datetime.now(UTC)
        first = self.failures == 0
        self.failures += 1
        self.last_error = message[:ERROR_CHARS]
        if first:
            self._event(now, "failing", self.last_error)
        return first

    def risk_controlled(
        self,
        message: str,
        base_seconds: float,
        retry_after: float | None = None,
        now: datetime | None = None,
    ) -> datetime:
        """The platform pushed back: cool down (longer each time); returns the end."""
        now = now or datetime.now(UTC)
        self.failures += 1
        self.risk_streak += 1
        until = now + timedelta(seconds=cooldown_for(base_seconds, self.risk_streak, retry_after))
        self.cooldown_until = _iso(until)
        self.last_error = message[:ERROR_CHARS]
        self._event(now, "cooldown", f"risk control ({self.risk_streak}x): {message}"[:ERROR_CHARS])
        return until

    def shape_error(self, message: str, now: datetime | None = None) -> bool:
        """A body the parser did not expect (counted whether or not the run went on).
        True the first time: the caller logs it once, with a sample."""
        self.shape_errors += 1
        first = self.shape_errors == 1
        if first:
            self._event(now or datetime.now(UTC), "shape", message[:ERROR_CHARS])
        return first

    def _event(self, now: datetime, kind: str, message: str) -> None:
        self.events.append({"at": _iso(now) or "", "kind": kind, "message": message})

    # -- persistence -----------------------------------------------------------------

    _PERSISTED = (
        "last_run",
        "last_success",
        "last_error",
        "failures",
        "risk_streak",
        "cooldown_until",
        "shape_errors",
    )

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready view (status API, the health log)."""
        return {
            "kind": self.kind,
            "state": self.state(now),
            "running": self.running,
            "runs": self.runs,
            "skipped": self.skipped,
            "last_run": self.last_run,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "failures": self.failures,
            "risk_streak": self.risk_streak,
            "cooldown_until": self.cooldown_until,
            "shape_errors": self.shape_errors,
            "rejects_logged": self.rejects_logged,
            "events": list(self.events),
            "extra": dict(self.extra),
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Carry a cool-down and the last outcomes over a restart."""
        for key in self._PERSISTED:
            if key in saved:
                setattr(self, key, saved[key])
        for event in saved.get("events", [])[-MAX_EVENTS:]:
            self.events.append(dict(event))


# -- what a fault means for a source --------------------------------------------------


def run_failed(
    name: str, health: SourceHealth, exc: Exception, cooldown_base: float
) -> tuple[str, Reject | None]:
    """Record the exception that ended a run of ``name``; returns the run's outcome and,
    for a malformed response, the reject to store. Logs once per episode, scrubbed.

    Risk control → a cool-down; a malformed body → failing, counted, logged once with a
    sample; anything else (network, HTTP status, a bug) → failing."""
    if isinstance(exc, RiskControlError):
        until = health.risk_controlled(scrub(str(exc)), cooldown_base, exc.retry_after)
        log.warning(
            "source %s: risk control (%s); cooling down until %s (%d in a row)",
            name,
            health.last_error,
            until.isoformat(timespec="seconds"),
            health.risk_streak,
        )
        return "cooldown", None
    if isinstance(exc, ShapeError):
        message = scrub(f"unexpected response: {exc}")
        sample = scrub(exc.sample)
        health.failed(message)
        if health.shape_error(message):
            log.warning("source %s: %s; sample: %r", name, message, sample)
        reject = Reject(
            source=name,
            location=f"{name}:run {health.runs}",
            reason=message,
            sample=sample,
            at=datetime.now(UTC),
        )
        return "shape", reject
    if health.failed(scrub(f"{type(exc).__name__}: {exc}")):
        log.warning("source %s failed: %s", name, health.last_error)
    else:
        log.debug("source %s failed again: %s", name, health.last_error)
    return "failed", None


def bad_response(name: str, health: SourceHealth, reject: Reject) -> None:
    """A malformed response the crawl skipped (it carried on with its other feeds)."""
    if health.shape_error(reject.reason):
        log.warning("source %s: %s; sample: %r", name, reject.reason, reject.sample[:200])
