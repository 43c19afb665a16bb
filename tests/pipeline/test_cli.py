import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

AD = "专业代理全额退保，不成功不收费，加威信 tuibao_8866 私聊"


def write_jsonl(path: Path, records: list[dict], extra: bytes = b"") -> None:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    path.write_bytes(body + extra)


def test_init_writes_a_config_and_refuses_to_clobber(tmp_path, capsys):
    path = tmp_path / "radar.toml"
    assert main(["init", str(path)]) == 0
    assert "[dashboard]" in path.read_text("utf-8")
    assert main(["init", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_import_then_search_in_the_terminal(tmp_path, capsys, caplog):
    feed = tmp_path / "feed.jsonl"
    records = [
        {
            "id": "1",
            "text": AD,
            "platform": "weibo",
            "author_id": "u1",
            "author_name": "退保小助手",
        },
        {"id": "2", "text": "今天去爬山了，风景很好", "platform": "weibo", "author_id": "u2"},
    ]
    write_jsonl(feed, records, extra=b'{"id": "3", "text": \n')
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["import", str(feed), *data]) == 1  # one bad record → status 1
    err = capsys.readouterr().err
    assert f"{feed}:3: broken JSON" in caplog.text
    assert "imported 2 posts" in err and "1 flagged" in err and "1 bad records" in err

    assert main(["search", "退保", *data]) == 0
    out = capsys.readouterr().out
    assert "weibo:1" in out and "退保小助手" in out and "tuibao_8866" in out
    assert "weibo:2" not in out
    assert "共 1 条" in out

    assert main(["search", "--json", "--all", *data]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["total"] == 2
    assert {r["key"] for r in payload["results"]} == {"weibo:1", "weibo:2"}

    assert main(["import", str(feed), *data]) == 0  # already imported: nothing new
    assert "nothing new" in capsys.readouterr().err


def test_search_rejects_bad_filters_in_one_line(tmp_path, capsys):
    feed = tmp_path / "feed.jsonl"
    write_jsonl(feed, [{"id": "1", "text": AD}])
    data = ["--data-dir", str(tmp_path / "data")]
    main(["import", str(feed), *data])
    capsys.readouterr()
    assert main(["search", "--min-score", "high", *data]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("radar: --min-score:")
    assert "\n" not in err


def test_search_without_a_store_says_so(tmp_path, capsys):
    assert main(["search", "x", "--data-dir", str(tmp_path / "none")]) == 2
    assert "no store yet" in capsys.readouterr().err


def test_bad_settings_stop_run_with_one_line(tmp_path, capsys):
    config = tmp_path / "radar.toml"
    config.write_text("[dashboard]\nport = 'eighty'\n", encoding="utf-8")
    assert main(["run", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip().endswith("dashboard.port: Expected `int`, got `str`")


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "run",
                "--data-dir",
                str(tmp_path),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["scan", "/no/such/file"], ["eval", "/no/such/file"]])
def test_unreadable_input_is_one_line(args, capsys):
    assert main(args) == 2
    assert "No such file" in capsys.readouterr().err
