"""``radar import``: one pass of a ``files`` source through the whole pipeline.

The import is a named source (``import:<absolute path>``) with its own checkpoint, so
importing the same growing file again picks up only the new lines, and an interrupted
import resumes instead of starting over.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from collectors.files import FilesSourceSettings
from pipeline.config import ConfigError, Settings
from pipeline.embedded import load_detector
from pipeline.runner import Runner
from pipeline.store.factory import open_store

log = logging.getLogger("radar.import")


async def import_files(
    settings: Settings, path: str, *, file_format: str = "auto", platform: str = "files"
) -> int:
    if "*" not in path and "?" not in path and not Path(path).is_file():
        raise ConfigError(f"{path}: no such file")
    source = FilesSourceSettings(
        name=f"import:{Path(path).expanduser().resolve()}",
        path=path,
        format=file_format,  # type: ignore[arg-type]
        platform=platform,
    )
    settings.data_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    await store.open()
    runner = Runner(settings, store, load_detector(settings), [source])
    await runner.start(schedule=False)
    started = time.perf_counter()
    progress = asyncio.create_task(_progress(runner, started))
    try:
        await runner.run_sources_once()
    finally:
        progress.cancel()
        await store.close()
    elapsed = time.perf_counter() - started
    c = runner.counters
    rate = c.written / elapsed if elapsed else 0.0
    print(
        f"imported {c.written} posts in {elapsed:.1f}s ({rate:,.0f}/s): {c.flagged} flagged, "
        f"{c.rejected} bad records, {c.truncated} truncated, {c.duplicates} duplicates",
        file=sys.stderr,
    )
    if c.collected == 0 and c.rejected == 0:
        print("nothing new: this file was already imported up to its end", file=sys.stderr)
    health = runner.health[source.name]
    if health.last_error:
        print(f"radar: import failed: {health.last_error}", file=sys.stderr)
        return 1
    return 1 if c.rejected else 0


async def _progress(runner: Runner, started: float) -> None:
    while True:
        await asyncio.sleep(2.0)
        elapsed = time.perf_counter() - started
        print(
            f"  {runner.progress_line()} ({runner.counters.written / elapsed:,.0f}/s)",
            file=sys.stderr,
        )
