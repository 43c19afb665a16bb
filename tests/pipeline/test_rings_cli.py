"""``radar rings``: runs the job once on the configured store and prints the rings."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.models import AccountRisk
from pipeline.store.sqlite import SqliteStore


def _account(account_id: str, contacts: list[str], flagged: bool = True) -> AccountRisk:
    return AccountRisk(
        platform="weibo",
        account_id=account_id,
        score=0.9 if flagged else 0.2,
        flagged=flagged,
        contacts=contacts,
    )


async def _seed(db: Path) -> None:
    store = SqliteStore(db)
    await store.open()
    await store.write_batch(
        [],
        [
            _account("a", ["wechat:tb2025"]),
            _account("b", ["wechat:tb2025", "phone:13800138000"]),
            _account("c", ["phone:13800138000"], flagged=False),
            _account("d", ["wechat:alone"]),
            _account("e", ["qq:12345"], flagged=False),
            _account("f", ["qq:12345"], flagged=False),
        ],
    )
    await store.close()


async def _rings(db: Path, keys: list[str]) -> dict[str, str | None]:
    store = SqliteStore(db)
    await store.open()
    try:
        return {k: a.ring for k, a in (await store.get_accounts(keys)).items()}
    finally:
        await store.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    asyncio.run(_seed(data / "radar.sqlite3"))
    return data


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["rings", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_and_saves_the_rings(data_dir: Path, capsys) -> None:
    code, out, err = run(capsys, "--data-dir", str(data_dir))
    assert code == 0, err
    lines = out.splitlines()
    head = lines[0].split("  ")
    assert head[0].startswith("ring-") and head[1] == "3 account(s)"
    assert head[2] == "共用: phone:13800138000, wechat:tb2025"
    assert lines[1:4] == ["  weibo:a", "  weibo:b", "  weibo:c"]  # c joins through b
    assert lines[-1].startswith(
        "1 ring(s), 3 account(s) in rings (0 by weak links); 0 account(s) sharing an ad "
        "template (0 changed); 6 account(s) read"
    )

    keys = ["weibo:a", "weibo:c", "weibo:d", "weibo:e"]
    rings = asyncio.run(_rings(data_dir / "radar.sqlite3", keys))
    assert rings == {"weibo:a": head[0], "weibo:c": head[0], "weibo:d": None, "weibo:e": None}


def test_json(data_dir: Path, capsys) -> None:
    code, out, _ = run(capsys, "--json", "--data-dir", str(data_dir))
    assert code == 0
    body = json.loads(out)
    [ring] = body["rings"]
    assert ring["size"] == 3
    assert ring["members"] == ["weibo:a", "weibo:b", "weibo:c"]
    assert ring["contacts"] == ["phone:13800138000", "wechat:tb2025"]
    assert (body["accounts_in_rings"], body["accounts_read"]) == (3, 6)
    assert (body["accounts_by_weak_links"], body["accounts_sharing_templates"]) == (0, 0)


def test_missing_store_is_one_line(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "none"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no store yet" in err


def test_a_file_that_is_no_database_is_one_line(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "radar.sqlite3").write_bytes(b"this is not sqlite" * 100)
    code, _, err = run(capsys, "--data-dir", str(data))
    assert code == 2
    assert err.startswith("radar: ") and err.count("\n") == 1 and "Traceback" not in err


def test_an_unreachable_elasticsearch_is_one_line(tmp_path: Path, capsys) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "radar.toml"
    config.write_text(
        f'[store]\nkind = "elasticsearch"\n[store.elasticsearch]\n'
        f'hosts = ["http://127.0.0.1:{port}"]\nretries = 0\nrequest_timeout = 2\n',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "--config", str(config))
    assert code == 2 and out == ""
    assert err.startswith("radar: store unavailable") and err.count("\n") == 1


def test_bad_rings_settings_are_one_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "radar.toml"
    config.write_text("[rings]\nevery_minutes = 0\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config))
    assert code == 2
    assert err == f"radar: {config}: rings.every_minutes: must be > 0\n"
