"""A takedown list as CSV or XLSX, for the platform's staff (zh headers, local times).

Posts are hostile input and these files are opened in spreadsheet programs, so every
text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return, which
Excel strips before looking) is prefixed with ``'`` (OWASP's CSV-injection advice): it
then reads as text, never as a formula. Control characters XLSX cannot hold are dropped.
Both formats carry exactly the rows of :func:`table_rows`, so the CSV and the XLSX of a
list always agree.

CSV is UTF-8 with a byte-order mark: without it Excel on a Chinese Windows reads the file
as GBK and the Chinese turns to mojibake.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pipeline.models import TakedownEntry, TakedownList
from pipeline.takedown.data import contact_text, platform_label, takedown_data

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What an XLSX (XML 1.0) cell cannot hold: C0 controls except tab, newline, return.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "下架清单"


def safe_cell(value: str) -> str:
    """Text that no spreadsheet will evaluate, without characters XLSX refuses."""
    value = _ILLEGAL.sub("", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _fields(index: int, entry: TakedownEntry, tz: ZoneInfo) -> dict[str, str | float | int]:
    return {
        "index": index,
        "platform": platform_label(entry.platform),
        "account_id": entry.account_id,
        "nickname": entry.nickname or "",
        "profile_url": entry.profile_url or "",
        "score": round(entry.score, 2),
        "categories": "、".join(entry.categories),
        "reasons": "；".join(entry.reasons),
        "contacts": "\n".join(contact_text(c) for c in entry.contacts),
        "evidence_urls": "\n".join(ev.url or ev.post_key for ev in entry.evidence),
        "evidence_excerpts": "\n".join(
            f"[{n}] {ev.excerpt}" for n, ev in enumerate(entry.evidence, start=1)
        ),
        "confirmed_by": entry.confirmed_by,
        "confirmed_at": _local(entry.confirmed_at, tz),
        "key": entry.key,
    }


def headers() -> list[str]:
    return [column.header for column in takedown_data().columns]


def table_rows(takedown: TakedownList, tz: ZoneInfo) -> list[list[str | float | int]]:
    """The list as rows (headers excluded): numbers stay numbers, text is made safe."""
    columns = takedown_data().columns
    out: list[list[str | float | int]] = []
    for index, entry in enumerate(takedown.entries, start=1):
        fields = _fields(index, entry, tz)
        out.append([safe_cell(v) if isinstance(v := fields[c.field], str) else v for c in columns])
    return out


def to_csv(takedown: TakedownList, tz: ZoneInfo) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers())
    writer.writerows(table_rows(takedown, tz))
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(takedown: TakedownList, tz: ZoneInfo) -> bytes:
    """One sheet: bold frozen header row, set column widths, wrapped multi-line cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    sheet.append(headers())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, row in enumerate(table_rows(takedown, tz), start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=number, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
                cell.alignment = wrap
    for number, column in enumerate(takedown_data().columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    sheet.freeze_panes = "A2"
    if takedown.entries:
        sheet.auto_filter.ref = sheet.dimensions
    workbook.properties.title = f"{SHEET_TITLE} {takedown.id}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render(takedown: TakedownList, fmt: str, tz: ZoneInfo) -> bytes:
    if fmt == "csv":
        return to_csv(takedown, tz)
    if fmt == "xlsx":
        return to_xlsx(takedown, tz)
    raise ValueError(f"unknown takedown list format {fmt!r} (csv or xlsx)")


def media_type(fmt: str) -> str:
    return CSV_MEDIA_TYPE if fmt == "csv" else XLSX_MEDIA_TYPE


def file_name(takedown_id: str, fmt: str) -> str:
    return f"takedown-{takedown_id}.{fmt}"
