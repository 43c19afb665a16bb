"""The ``recheck`` job: are the accounts we reported gone yet?

Investigators mark accounts ``reported`` when they report them to the platform; this job
asks the platform again and moves them to ``taken_down`` when it says the account (or
its posts) is gone, so the takedown list reflects what the platforms actually did.

The per-platform question is one small protocol, implemented where the platform's
requests already live:

* a collector method ``async check_account(platform, account_id) -> bool | None``, or
* a module-level ``async check_account(client, platform, account_id) -> bool | None`` in
  the collector's module, called with the collector's ``client`` (or ``_client``).

``True`` = gone (banned, deleted, posts removed), ``False`` = still there, ``None`` = the
platform cannot tell us (unknown platform, ambiguous answer): nothing changes. Risk
control during a recheck stops the recheck for that platform (the next run tries again).
``rsshub`` has no reliable "gone" answer (a dead route and a blocked instance look the
same), so it does not implement the protocol; ``jsonapi`` does when ``account_url`` is
configured.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, runtime_checkable

import httpx

from collectors.http import RiskControlError, scrub

log = logging.getLogger("radar.recheck")

Check = Callable[[str, str], Awaitable[bool | None]]
CheckWithClient = Callable[[httpx.AsyncClient, str, str], Awaitable[bool | None]]


@runtime_checkable
class AccountChecker(Protocol):
    async def check_account(self, platform: str, account_id: str) -> bool | None: ...


def checker_for(collector: object) -> Check | None:
    """How to ask ``collector``'s platform about an account, if it can be asked."""
    method = getattr(collector, "check_account", None)
    if callable(method):
        return method
    module = sys.modules.get(type(collector).__module__)
    function = getattr(module, "check_account", None)
    client = getattr(collector, "client", None) or getattr(collector, "_client", None)
    if callable(function) and isinstance(client, httpx.AsyncClient):
        return partial(function, client)
    return None


@dataclass
class RecheckReport:
    checked: int = 0
    taken_down: list[str] = field(default_factory=list)  # account keys
    still_there: int = 0
    unknown: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"rechecked {self.checked} reported account(s): {len(self.taken_down)} taken down, "
            f"{self.still_there} still there, {self.unknown} unknown, {len(self.errors)} errors"
        )


def split_account_key(key: str) -> tuple[str, str]:
    platform, _, account_id = key.partition(":")
    return platform, account_id


async def recheck_accounts(
    account_keys: Iterable[str],
    checkers: dict[str, Sequence[Check]],
    mark_taken_down: Callable[[str], Awaitable[Any]],
    *,
    now: datetime | None = None,
) -> RecheckReport:
    """Ask each account's platform; ``mark_taken_down(account_key)`` for the gone ones.

    ``checkers`` maps a platform to the checks able to answer for it (the first that
    answers True/False wins)."""
    report = RecheckReport()
    blocked: set[str] = set()
    for key in account_keys:
        platform, account_id = split_account_key(key)
        checks = checkers.get(platform, ())
        if not checks or platform in blocked:
            report.unknown += 1
            continue
        report.checked += 1
        answer: bool | None = None
        for check in checks:
            try:
                answer = await check(platform, account_id)
            except RiskControlError as exc:
                blocked.add(platform)
                report.errors.append(scrub(f"{key}: risk control: {exc}"))
                break
            except Exception as exc:
                report.errors.append(scrub(f"{key}: {type(exc).__name__}: {exc}"))
                continue
            if answer is not None:
                break
        if answer is True:
            await mark_taken_down(key)
            report.taken_down.append(key)
        elif answer is False:
            report.still_there += 1
        else:
            report.unknown += 1
    log.info("%s (%s)", report.summary(), (now or datetime.now(UTC)).isoformat("T", "seconds"))
    return report
