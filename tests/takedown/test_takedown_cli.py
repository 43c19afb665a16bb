"""``radar takedown`` end to end on a SQLite store seeded with confirmed, dismissed and
new accounts."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from takedown_seed import LISTED, NOT_LISTED, seed_store

from pipeline.cli import main
from pipeline.models import ReviewStatus
from pipeline.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]


async def _seed(db: Path) -> None:
    store = SqliteStore(db)
    await store.open()
    try:
        await seed_store(store)
    finally:
        await store.close()


async def _status(db: Path) -> dict[str, ReviewStatus]:
    store = SqliteStore(db)
    await store.open()
    try:
        out = {}
        for status in ReviewStatus:
            for account in await store.accounts_with_status(status):
                out[account.key] = status
        return out
    finally:
        await store.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    asyncio.run(_seed(data / "radar.sqlite3"))
    return data


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["takedown", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def csv_keys(path: Path) -> set[str]:
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"), newline="")))
    return {row["账号标识"] for row in rows}


def test_lists_only_confirmed_marks_them_and_a_second_run_lists_nothing(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "--data-dir", str(data_dir), "--out", str(out_dir))
    assert (code, err) == (0, "")
    files = sorted(out_dir.iterdir())
    assert [p.suffix for p in files] == [".csv", ".xlsx", ".csv", ".xlsx"]
    listed = set().union(*(csv_keys(p) for p in files if p.suffix == ".csv"))
    assert listed == LISTED and not listed & NOT_LISTED
    for path in files:
        if path.suffix == ".xlsx":
            sheet = openpyxl.load_workbook(path).active
            assert sheet["A1"].value == "序号"
    assert "2 list(s) saved, 3 account(s) marked reported" in out
    assert "微博" in out and "抖音" in out

    status = asyncio.run(_status(data_dir / "radar.sqlite3"))
    assert {k for k, s in status.items() if s == ReviewStatus.REPORTED} == LISTED
    assert status["weibo:d1"] == ReviewStatus.DISMISSED
    assert status["weibo:n1"] == ReviewStatus.NEW

    code, out, _ = run(capsys, "--data-dir", str(data_dir), "--out", str(out_dir))
    assert code == 0
    assert "no confirmed accounts to list" in out
    assert len(list(out_dir.iterdir())) == 4


def test_default_folder_is_in_the_data_dir(data_dir: Path, capsys) -> None:
    code, _, _ = run(capsys, "--data-dir", str(data_dir), "--format", "xlsx")
    assert code == 0
    assert sorted(p.suffix for p in (data_dir / "takedowns").iterdir()) == [".xlsx", ".xlsx"]


def test_dry_run_changes_nothing_and_writes_nothing(data_dir: Path, capsys) -> None:
    before = asyncio.run(_status(data_dir / "radar.sqlite3"))
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "--dry-run")
    assert code == 0
    assert "dry run: 2 list(s), 3 account(s); nothing saved" in out
    assert asyncio.run(_status(data_dir / "radar.sqlite3")) == before
    assert not (data_dir / "takedowns").exists()


def test_platform_option(data_dir: Path, tmp_path: Path, capsys) -> None:
    code, _, _ = run(
        capsys, "--data-dir", str(data_dir), "--platform", "douyin", "--out", str(tmp_path / "o")
    )
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert len(names) == 2 and all("-douyin-" in n for n in names)
    assert csv_keys(next((tmp_path / "o").glob("*.csv"))) == {"douyin:c3"}
    status = asyncio.run(_status(data_dir / "radar.sqlite3"))
    assert status["weibo:c1"] == ReviewStatus.CONFIRMED


def test_missing_store_is_one_line(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "none"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no store yet" in err


def test_unwritable_folder_is_one_line(data_dir: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "--data-dir", str(data_dir), "--out", str(blocker / "sub"))
    assert code == 2
    assert err.startswith("radar: ") and "cannot write" in err and err.count("\n") == 1


def test_bad_format_is_refused(data_dir: Path, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["takedown", "--data-dir", str(data_dir), "--format", "pdf"])
    assert caught.value.code == 2


def test_the_radar_command(data_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "takedown",
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path / "cmd"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "3 account(s) marked reported" in done.stdout
    assert len(list((tmp_path / "cmd").glob("takedown-2*-weibo-*.csv"))) == 1
