"""``radar collect NAME --once``, ``radar sources`` and ``radar recheck`` against a
loopback vendor, as an operator runs them (in process, through ``main``)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from collect_server import Reply, Seen, json_reply, serving

from pipeline.cli import main
from pipeline.models import Review, ReviewStatus, account_review_target
from pipeline.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

AD = "专业代理全额退保，不成功不收费，加威信 tuibao_8866 私聊"


@pytest.fixture(scope="module")
def detector():
    from detectors import Detector

    return Detector()


@pytest.fixture(autouse=True)
def one_detector(monkeypatch, detector):
    """Load the detector once for the module, not once per command."""
    monkeypatch.setattr("pipeline.sources_cli.load_detector", lambda settings: detector)


def write_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "radar.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path / "data"}"
[sample]
enabled = false

[[sources]]
kind = "jsonapi"
name = "vendor"
base_url = "{url}"
url = "/feed"
items = "data"
fields = {{ id = "id", text = "text", author_id = "uid" }}
order = "none"
platform = "weibo"
rate_per_second = 0
retries = 0
cooldown_seconds = 600
account_url = "/users/{{account_id}}"
account_gone = "status == 'deleted'"
""",
        encoding="utf-8",
    )
    return config


def route(state: dict):
    def answer(seen: Seen) -> Reply:
        if seen.path.startswith("/users/"):
            uid = seen.path.rsplit("/", 1)[-1]
            return json_reply({"status": "deleted" if uid == "u-gone" else "normal"})
        if state.get("blocked"):
            return json_reply({"msg": "访问过于频繁"}, 432)
        return json_reply(
            {
                "data": [
                    {"id": "1", "text": AD, "uid": "u-gone"},
                    {"id": "2", "text": "今天吃了火锅", "uid": "u-ok"},
                ]
            }
        )

    return answer


def test_collect_once_prints_what_it_got_and_sources_shows_health(tmp_path, capsys):
    state: dict = {}
    with serving(route(state)) as server:
        config = write_config(tmp_path, server.url)
        assert main(["collect", "vendor", "--once", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "FLAG" in out and "weibo:1" in out and "weibo:2" in out
        assert "vendor: 2 collected, 2 stored, 1 flagged" in out
        assert out.rstrip().endswith("healthy")

        assert main(["sources", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "vendor [jsonapi]" in out
        assert "state         healthy" in out
        assert "2 last hour, 2 last day, 2 total" in out

        state["blocked"] = True
        assert main(["collect", "vendor", "--once", "--config", str(config)]) == 1
        capsys.readouterr()
        assert main(["sources", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "state         cooling down until" in out and "432" in out
        # While cooling down, --once refuses politely unless forced.
        assert main(["collect", "vendor", "--once", "--config", str(config)]) == 1
        assert "use --force" in capsys.readouterr().out
        requests_before = len(server.requests)
        state["blocked"] = False
        assert main(["collect", "vendor", "--once", "--force", "--config", str(config)]) == 0
        assert len(server.requests) == requests_before + 1


async def _mark_reported(db: Path, keys: list[str]) -> None:
    store = SqliteStore(db)
    await store.open()
    try:
        for key in keys:
            review = Review(
                target=account_review_target(key),
                status=ReviewStatus.REPORTED,
                at=datetime.now(UTC),
            )
            await store.set_review(review)
    finally:
        await store.close()


def test_recheck_marks_reported_accounts_that_are_gone_as_taken_down(tmp_path, capsys):
    import asyncio

    with serving(route({})) as server:
        config = write_config(tmp_path, server.url)
        assert main(["collect", "vendor", "--once", "--config", str(config)]) == 0
        db = tmp_path / "data" / "radar.sqlite3"
        asyncio.run(_mark_reported(db, ["weibo:u-gone", "weibo:u-ok", "douyin:x"]))
        capsys.readouterr()
        assert main(["recheck", "--config", str(config)]) == 0
        out = capsys.readouterr().out
    assert "rechecked 2 reported account(s): 1 taken down, 1 still there, 1 unknown" in out
    assert "taken down: weibo:u-gone" in out

    import sqlite3

    con = sqlite3.connect(db)
    statuses = dict(con.execute("SELECT target, status FROM reviews"))
    con.close()
    assert statuses["account:weibo:u-gone"] == "taken_down"
    assert statuses["account:weibo:u-ok"] == "reported"
