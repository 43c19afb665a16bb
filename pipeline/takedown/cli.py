"""``radar takedown``: produce the takedown lists now and write their files.

Prints one line per list and a summary. Operator mistakes (no store yet, a store that
cannot be reached, an output folder that cannot be written) are one-line
:class:`~pipeline.config.ConfigError` messages, as for the other commands.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pipeline.config import ConfigError, Settings
from pipeline.store.factory import open_store, store_missing
from pipeline.takedown.data import platform_label
from pipeline.takedown.job import produce_takedown_lists, write_files

DEFAULT_OUT = "takedowns"


async def run_takedown(
    settings: Settings,
    *,
    platforms: Sequence[str] | None = None,
    out_dir: str | None = None,
    dry_run: bool = False,
    formats: Sequence[str] | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
) -> int:
    """Exit status 0, also when there was nothing to list. A dry run changes nothing in
    the store and writes files only when ``out_dir`` is given."""
    out = out or sys.stdout
    if missing := store_missing(settings):
        raise ConfigError(missing)
    formats = list(formats or settings.takedown.formats)
    folder = _folder(settings, out_dir, dry_run)
    store = open_store(settings)
    try:
        await store.open()
        lists = await produce_takedown_lists(
            store, settings, now or datetime.now(UTC), platforms=platforms, dry_run=dry_run
        )
    except ConnectionError as exc:  # the Elasticsearch store's StoreUnavailable
        raise ConfigError(f"store unavailable: {exc}") from None
    finally:
        await store.close()
    written: list[Path] = []
    if folder is not None and lists:
        try:
            written = write_files(lists, folder, formats, settings)
        except OSError as exc:
            raise ConfigError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    for takedown in lists:
        files = ", ".join(str(p) for p in written if takedown.id in p.name) or "-"
        print(
            f"{takedown.id}  {platform_label(takedown.platform)}  "
            f"{len(takedown.entries)} account(s)  {takedown.period}  {files}",
            file=out,
        )
    accounts = sum(len(t.entries) for t in lists)
    if not lists:
        print("no confirmed accounts to list", file=out)
    elif dry_run:
        print(f"dry run: {len(lists)} list(s), {accounts} account(s); nothing saved", file=out)
    else:
        print(f"{len(lists)} list(s) saved, {accounts} account(s) marked reported", file=out)
    return 0


def _folder(settings: Settings, out_dir: str | None, dry_run: bool) -> Path | None:
    if out_dir:
        return Path(out_dir).expanduser()
    if dry_run:
        return None
    configured = settings.takedown.out_dir or DEFAULT_OUT
    path = Path(configured).expanduser()
    return path if path.is_absolute() else settings.data_path / path
