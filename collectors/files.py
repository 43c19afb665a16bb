"""The ``files`` source: JSON Lines and CSV files (a glob), read incrementally.

The cursor remembers, per file, the byte offset and line number already handed on, so a
file that grows (a vendor appending a dump, a crawler writing JSONL) is tailed, and a
restart neither skips nor repeats lines. A JSONL line without its final newline is left
for the next run unless it already parses (it may still be being written).
"""

from __future__ import annotations

import csv
import glob
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import msgspec

from collectors.base import CollectorContext, Page, SourceSettings
from collectors.records import MAX_LINE_BYTES, RecordError, decode_line, post_from_record
from collectors.registry import register
from pipeline.models import Post, Reject

_SAMPLE_CHARS = 120


class FilesSourceSettings(SourceSettings, tag="files"):
    path: str
    format: Literal["auto", "jsonl", "csv"] = "auto"
    encoding: str = "utf-8"
    platform: str = "files"
    page_size: int = 500


class _FilePosition(msgspec.Struct):
    offset: int = 0
    line: int = 0


_Cursor = dict[str, _FilePosition]


def _load_cursor(cursor: str | None) -> _Cursor:
    if not cursor:
        return {}
    return msgspec.json.decode(cursor, type=_Cursor)


class FilesCollector:
    def __init__(self, settings: FilesSourceSettings, context: CollectorContext) -> None:
        self.name = settings.name
        self._settings = settings
        self._context = context

    def _paths(self) -> list[Path]:
        pattern = str(Path(self._settings.path).expanduser())
        return (
            sorted(Path(match) for match in glob.glob(pattern))
            if glob.has_magic(pattern)
            else [Path(pattern)]
        )

    def _format(self, path: Path) -> str:
        if self._settings.format != "auto":
            return self._settings.format
        return "csv" if path.suffix.lower() == ".csv" else "jsonl"

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        positions = _load_cursor(cursor)
        for path in self._paths():
            if not path.is_file():
                reject = Reject(source=self.name, location=str(path), reason="no such file")
                yield Page(posts=[], rejects=[reject], cursor=cursor)
                continue
            position = positions.get(str(path), _FilePosition())
            if path.stat().st_size < position.offset:
                position = _FilePosition()  # truncated / replaced: read it again
            read = self._read_csv if self._format(path) == "csv" else self._read_jsonl
            page = Page(posts=[], rejects=[])
            reached = position
            for item, reached in read(path, position):
                if isinstance(item, Post):
                    page.posts.append(item)
                elif item is not None:
                    page.rejects.append(item)
                if len(page.posts) + len(page.rejects) >= self._settings.page_size:
                    positions[str(path)] = reached
                    page.cursor = msgspec.json.encode(positions).decode()
                    yield page
                    page = Page(posts=[], rejects=[])
            positions[str(path)] = reached
            page.cursor = msgspec.json.encode(positions).decode()
            yield page

    def _to_post(self, record: object, location: str) -> Post | Reject:
        try:
            return post_from_record(
                record,
                source=self.name,
                default_platform=self._settings.platform,
                tz=self._context.tz,
                max_text_chars=self._context.max_text_chars,
                collected_at=datetime.now(UTC),
            )
        except RecordError as exc:
            return self._reject(location, str(exc), record)

    def _reject(self, location: str, reason: str, sample: object) -> Reject:
        text = sample if isinstance(sample, str) else repr(sample)
        return Reject(
            source=self.name,
            location=location,
            reason=reason,
            sample=text[:_SAMPLE_CHARS],
            at=datetime.now(UTC),
        )

    def _read_jsonl(
        self, path: Path, start: _FilePosition
    ) -> Iterator[tuple[Post | Reject | None, _FilePosition]]:
        offset, line = start.offset, start.line
        with path.open("rb") as handle:
            handle.seek(offset)
            while True:
                raw = handle.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    return
                complete = raw.endswith(b"\n")
                if not complete and len(raw) > MAX_LINE_BYTES:
                    skipped = len(raw) + _skip_to_newline(handle)
                    line += 1
                    offset += skipped
                    reject = self._reject(
                        f"{path}:{line}", f"line longer than {MAX_LINE_BYTES} bytes", ""
                    )
                    yield reject, _FilePosition(offset, line)
                    continue
                item = self._parse_json_line(raw, f"{path}:{line + 1}")
                if not complete and isinstance(item, Reject):
                    return  # probably still being written; retry next run
                line += 1
                offset += len(raw)
                yield item, _FilePosition(offset, line)

    def _parse_json_line(self, raw: bytes, location: str) -> Post | Reject | None:
        if line_is_blank(raw):
            return None
        try:
            text = decode_line(raw, self._settings.encoding).lstrip("\ufeff")
            record = msgspec.json.decode(text)
        except RecordError as exc:
            return self._reject(location, str(exc), raw[:_SAMPLE_CHARS].decode("utf-8", "replace"))
        except msgspec.DecodeError as exc:
            return self._reject(location, f"broken JSON: {exc}", text)
        return self._to_post(record, location)

    def _read_csv(
        self, path: Path, start: _FilePosition
    ) -> Iterator[tuple[Post | Reject | None, _FilePosition]]:
        # CSV rows may span lines, so the cursor counts records, not bytes.
        try:
            data = path.read_bytes().decode(self._settings.encoding).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            reason = f"invalid {self._settings.encoding} at byte {exc.start}"
            yield self._reject(str(path), reason, ""), start
            return
        reader = csv.DictReader(io.StringIO(data, newline=""))
        for index, row in enumerate(reader, start=1):
            if index <= start.line:
                continue
            position = _FilePosition(0, index)
            if None in row:
                yield self._reject(f"{path}:{index + 1}", "more cells than header", ""), position
                continue
            record = {key: value for key, value in row.items() if value not in (None, "")}
            yield self._to_post(record, f"{path}:{index + 1}"), position

    async def aclose(self) -> None:
        return None


def line_is_blank(raw: bytes) -> bool:
    return not raw.strip()


def _skip_to_newline(handle: io.BufferedReader) -> int:
    skipped = 0
    while True:
        chunk = handle.readline(1024 * 1024)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


register(FilesSourceSettings, FilesCollector)
