"""CSV and XLSX exports: Excel-readable Chinese, zh headers, no formula injection."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from pipeline.models import TakedownEntry, TakedownEvidence, TakedownList
from pipeline.takedown.export import headers, safe_cell, table_rows, to_csv, to_xlsx

TZ = ZoneInfo("Asia/Shanghai")
INJECTIONS = ['=HYPERLINK("http://evil.example","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]


def entry(n: int, **overrides: object) -> TakedownEntry:
    values: dict[str, object] = {
        "key": f"weibo:u{n}",
        "platform": "weibo",
        "account_id": f"u{n}",
        "nickname": f"退保小助手{n}",
        "profile_url": f"https://weibo.com/u/u{n}",
        "score": 0.912,
        "categories": ["代理退保", "代理投诉"],
        "reasons": ["全额退保广告", "留私人联系方式"],
        "contacts": ["wechat:tb2025", "qq:12345", "odd:x"],
        "evidence": [
            TakedownEvidence(post_key="weibo:p1", url="https://weibo.com/p1", excerpt="全额退保"),
            TakedownEvidence(post_key="weibo:p2", excerpt="不成功不收费"),
        ],
        "confirmed_by": "李调查",
        "confirmed_at": datetime(2026, 11, 20, 2, 5, tzinfo=UTC),
    }
    values.update(overrides)
    return TakedownEntry(**values)  # type: ignore[arg-type]


def takedown(*entries: TakedownEntry) -> TakedownList:
    return TakedownList(
        id="2026-11-23-weibo-1a2b3c4d",
        platform="weibo",
        created_at=datetime(2026, 11, 23, 1, tzinfo=UTC),
        period="2026-11-16~2026-11-23",
        entries=list(entries),
    )


HOSTILE = entry(
    2,
    nickname=INJECTIONS[0],
    reasons=[INJECTIONS[1]],
    contacts=[],
    evidence=[TakedownEvidence(post_key="weibo:p9", url=INJECTIONS[3], excerpt=INJECTIONS[2])],
    confirmed_by=INJECTIONS[4],
)


@pytest.mark.parametrize("value", [*INJECTIONS, "\r=1"])
def test_formula_starts_are_escaped(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["全额退保", "tb2025", "1-2", "a=b", "", "'quoted"])
def test_plain_text_is_left_alone(value: str) -> None:
    assert safe_cell(value) == value


def test_control_characters_are_dropped() -> None:
    assert safe_cell("全额\x00退保\x1b[31m\x07") == "全额退保[31m"
    assert safe_cell("\x01=1") == "'=1"  # stripped first, then checked


def test_rows_format_one_account_per_line() -> None:
    [row] = table_rows(takedown(entry(1)), TZ)
    fields = dict(zip(headers(), row, strict=True))
    assert fields["序号"] == 1
    assert fields["平台"] == "微博"
    assert fields["风险分"] == 0.91
    assert fields["类别"] == "代理退保、代理投诉"
    assert fields["联系方式"] == "微信 tb2025\nQQ 12345\nodd:x"
    assert fields["证据链接"] == "https://weibo.com/p1\nweibo:p2"
    assert fields["证据摘录"] == "[1] 全额退保\n[2] 不成功不收费"
    assert fields["确认时间"] == "2026-11-20 10:05"  # Asia/Shanghai
    assert fields["账号标识"] == "weibo:u1"


def test_csv_has_a_bom_and_zh_headers_and_reads_back() -> None:
    data = to_csv(takedown(entry(1), HOSTILE), TZ)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read[0] == headers()
    assert read[0][:4] == ["序号", "平台", "账号ID", "昵称"]
    expected = [[str(v) for v in row] for row in table_rows(takedown(entry(1), HOSTILE), TZ)]
    assert read[1:] == expected


def test_csv_cells_never_start_a_formula() -> None:
    text = to_csv(takedown(HOSTILE), TZ).decode("utf-8-sig")
    [_, row] = list(csv.reader(io.StringIO(text, newline="")))
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert f"'{INJECTIONS[0]}" in row


def test_xlsx_reads_back_with_the_same_rows() -> None:
    lst = takedown(entry(1), HOSTILE, entry(3, nickname="含\x00控制\x0b字符"))
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(lst, TZ)))
    sheet = book.active
    assert sheet.title == "下架清单"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == headers()
    # An empty cell reads back as None: the only difference XLSX makes.
    expected = [[None if v == "" else v for v in row] for row in table_rows(lst, TZ)]
    assert values[1:] == expected
    assert values[3][3] == "含控制字符"


def test_xlsx_has_no_formulas_a_frozen_header_and_widths() -> None:
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(takedown(entry(1), HOSTILE), TZ)))
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["A"].width == 6
    assert sheet.column_dimensions["K"].width == 60  # 证据摘录
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    assert sheet["D3"].value == f"'{INJECTIONS[0]}"
    assert isinstance(sheet["F2"].value, float)  # the score stays a number


def test_an_empty_list_exports_headers_only() -> None:
    empty = takedown()
    assert to_csv(empty, TZ).decode("utf-8-sig").splitlines() == [",".join(headers())]
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(empty, TZ))).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [headers()]
