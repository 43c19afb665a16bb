"""``radar sources`` and ``radar collect NAME --once``: source health in a terminal.

``radar sources`` reads what the running monitor persisted (checkpoints in the store,
health and run history beside it: :mod:`pipeline.store.health_log`), so it answers from
another process while ``radar run`` is collecting. ``radar collect`` runs one source
through a real :class:`~pipeline.runner.Runner` against the store, so what it prints is
exactly what the monitor would have stored, checkpoint included.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

from collectors.health import SourceHealth
from pipeline.config import ConfigError, Settings
from pipeline.embedded import configured_sources, load_detector
from pipeline.models import CATEGORY_LABELS_ZH, ScoredPost, SourceState
from pipeline.runner import Runner
from pipeline.store.factory import open_store, store_missing
from pipeline.store.health_log import SqliteHealthLog

_TEXT_CHARS = 60


def _local(when: str | datetime | None, settings: Settings) -> str:
    if not when:
        return "-"
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S")


def _health_line(health: SourceHealth, settings: Settings, now: datetime) -> str:
    state = health.state(now)
    if state == "cooling":
        return f"cooling down until {_local(health.cooldown_until, settings)}: {health.last_error}"
    if state == "failing":
        return f"failing: {health.last_error}"
    return "healthy" if health.last_run or health.last_success else "not run yet"


async def run_sources(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if missing := store_missing(settings):
        raise ConfigError(missing)
    store = open_store(settings)
    await store.open()
    try:
        states = {state.name: state for state in await store.list_sources()}
    finally:
        await store.close()
    log = SqliteHealthLog(settings.sqlite_file)
    saved = await log.load()
    now = datetime.now(UTC)
    hour = await log.posts_since(now - timedelta(hours=1))
    day = await log.posts_since(now - timedelta(days=1))
    kinds = {s.name: str(s.__struct_config__.tag) for s in configured_sources(settings)}
    names = list(kinds) + sorted((set(states) | set(saved)) - set(kinds))
    if not names:
        print("no sources configured and none has run yet", file=out)
        return 0
    for name in names:
        health = SourceHealth(kind=kinds.get(name, saved.get(name, {}).get("kind", "?")))
        if name in saved:
            health.restore(saved[name])
        state = states.get(name) or SourceState(name=name)
        configured = "" if name in kinds else "  (no longer configured)"
        print(f"{name} [{health.kind}]{configured}", file=out)
        print(f"  state         {_health_line(health, settings, now)}", file=out)
        print(f"  last success  {_local(health.last_success, settings)}", file=out)
        print(
            f"  posts         {hour.get(name, 0)} last hour, {day.get(name, 0)} last day, "
            f"{state.posts_total} total, {state.bad_records} bad records",
            file=out,
        )
        print(
            f"  checkpoint    {_local(state.updated_at, settings)}  {(state.cursor or '-')[:60]}",
            file=out,
        )
    return 0


def _post_line(scored: ScoredPost, settings: Settings) -> str:
    post, verdict = scored.post, scored.verdict
    mark = "FLAG" if verdict.flagged else "    "
    cats = "/".join(CATEGORY_LABELS_ZH.get(c, c) for c in verdict.categories)
    text = " ".join(post.text.split())[:_TEXT_CHARS]
    when = _local(post.created_at, settings)
    author = post.author_name or post.author_id or "-"
    return f"{mark} {verdict.score:.2f} {post.key}  {author}  {when}  {cats}  {text}"


async def run_collect(
    settings: Settings, name: str, *, force: bool = False, out: TextIO | None = None
) -> int:
    """Collect one source now; prints each stored post and a summary. Exit 1 when the
    source failed or is cooling down (``--force`` runs it anyway)."""
    out = out or sys.stdout
    sources = {source.name: source for source in configured_sources(settings)}
    if name not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")
    source = sources[name]
    if not source.enabled:
        source.enabled = True  # asked for by name: run it even if paused in the config
    settings.data_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    await store.open()
    runner = Runner(settings, store, load_detector(settings), [source])
    runner.tap = lambda scored: print(_post_line(scored, settings), file=out)
    try:
        await runner.start(schedule=False)
        health = runner.health[name]
        if health.cooling() and not force:
            print(
                f"{name}: cooling down until {_local(health.cooldown_until, settings)} "
                f"({health.last_error}); use --force to run it anyway",
                file=out,
            )
            await runner.stop()
            return 1
        await runner.collect_once(name, force=force)
        await runner.stop()
    finally:
        await store.close()
    c = runner.counters
    now = datetime.now(UTC)
    print(
        f"{name}: {c.collected} collected, {c.written} stored, {c.flagged} flagged, "
        f"{c.rejected} bad records, {c.duplicates} duplicates; "
        f"{_health_line(health, settings, now)}",
        file=out,
    )
    return 0 if health.state(now) == "healthy" else 1


async def run_recheck(settings: Settings, out: TextIO | None = None) -> int:
    """Run the ``recheck`` job once now (the monitor also runs it every few hours)."""
    out = out or sys.stdout
    if missing := store_missing(settings):
        raise ConfigError(missing)
    store = open_store(settings)
    await store.open()
    runner = Runner(settings, store, load_detector(settings), configured_sources(settings))
    try:
        await runner.start(schedule=False)
        report = await runner.recheck_once()
        await runner.stop()
    finally:
        await store.close()
    print(report.summary(), file=out)
    for key in report.taken_down:
        print(f"  taken down: {key}", file=out)
    for error in report.errors:
        print(f"  error: {error}", file=out)
    return 1 if report.errors else 0
