import re
from pathlib import Path

import pytest

from collectors.files import FilesSourceSettings
from pipeline.config import ConfigError, load_settings, write_sample_config
from pipeline.store.factory import open_store
from pipeline.store.sqlite import SqliteStore

_PROCESS = {"RADAR_STORE__SQLITE_WRITER": "process"}


def test_defaults_match_the_design():
    settings = load_settings(environ={})
    assert settings.data_dir == "./radar-data"
    assert settings.store.kind == "sqlite"
    assert settings.stream.kind == "inprocess"
    assert (settings.dashboard.host, settings.dashboard.port) == ("127.0.0.1", 8600)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.sample_enabled is True


def test_environment_overrides_file_and_cli_overrides_environment(tmp_path: Path):
    config = tmp_path / "radar.toml"
    config.write_text('data_dir = "/from/file"\n[dashboard]\nport = 8601\n', encoding="utf-8")
    env = {"RADAR_DASHBOARD__PORT": "8702", "RADAR_SAMPLE__DURATION_SECONDS": "7.5"}
    settings = load_settings(config, environ=env, overrides={"data_dir": "/from/cli"})
    assert settings.dashboard.port == 8702
    assert settings.sample.duration_seconds == 7.5
    assert settings.data_dir == "/from/cli"


def test_config_path_comes_from_radar_config(tmp_path: Path):
    config = tmp_path / "radar.toml"
    config.write_text('log_level = "DEBUG"\n', encoding="utf-8")
    assert load_settings(environ={"RADAR_CONFIG": str(config)}).log_level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dashboard]\nport = 'x'\n", "dashboard.port: Expected `int`, got `str`"),
        ("[dashboard]\nprot = 1\n", "dashboard: Object contains unknown field `prot`"),
        ("[dashboard]\nport = 70000\n", "dashboard.port: must be 0..65535"),
        ("timezone = 'Mars/Base'\n", "timezone: unknown zone"),
        ("[stream\n", "invalid TOML"),
        ("[[sources]]\nname='a'\nkind='ftp'\n", "sources[0]: kind: unknown source kind 'ftp'"),
        ("[[sources]]\nname='a'\nkind='files'\n", "sources[0]: Object missing required field"),
        (
            "[[sources]]\nname='a'\nkind='files'\npath='x'\ncron='not a cron'\n",
            "sources[0].cron:",
        ),
        (
            "[[sources]]\nname='a'\nkind='files'\npath='x'\n"
            "[[sources]]\nname='a'\nkind='files'\npath='y'\n",
            "duplicate name 'a'",
        ),
    ],
)
def test_invalid_settings_are_one_line_naming_the_key(tmp_path: Path, text: str, message: str):
    config = tmp_path / "radar.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert str(config) in str(error.value)


def test_missing_config_file_says_how_to_create_one(tmp_path: Path):
    with pytest.raises(ConfigError, match="radar init"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_sources_are_typed_by_kind_and_turn_the_sample_off(tmp_path: Path):
    config = tmp_path / "radar.toml"
    config.write_text(
        "[[sources]]\nname='drop'\nkind='files'\npath='/x/*.jsonl'\ninterval_seconds=5\n",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    [source] = settings.sources
    assert isinstance(source, FilesSourceSettings)
    assert source.interval_seconds == 5
    assert settings.sample_enabled is False


def test_init_writes_a_sample_that_loads_and_refuses_to_overwrite(tmp_path: Path):
    path = tmp_path / "radar.toml"
    write_sample_config(path)
    assert load_settings(path, environ={}) == load_settings(environ={})
    with pytest.raises(ConfigError, match="already exists"):
        write_sample_config(path)


def test_every_commented_source_example_in_the_sample_is_valid(tmp_path: Path):
    from pipeline.config import SAMPLE_CONFIG

    text = SAMPLE_CONFIG.read_text("utf-8")
    block = text[text.index("# [[sources]]") :]
    toml_line = re.compile(r"# (\[\[sources\]\]|[a-z_]+ = .*)$")
    uncommented = "\n".join(
        match.group(1) for line in block.splitlines() if (match := toml_line.match(line))
    )
    config = tmp_path / "sources.toml"
    config.write_text(uncommented, encoding="utf-8")
    kinds = {s.__struct_config__.tag for s in load_settings(config, environ={}).sources}
    assert kinds == {"files", "weibo", "bilibili", "zhihu", "wechat", "rsshub", "jsonapi", "ingest"}


@pytest.mark.parametrize(
    ("environ", "worker", "expected"),
    [
        ({}, False, "thread"),
        ({}, True, "process"),
        (_PROCESS, False, "process"),
        ({"RADAR_STORE__SQLITE_WRITER": "thread"}, True, "thread"),
    ],
)
def test_the_sqlite_writer_is_a_process_for_workers_unless_set(
    environ: dict[str, str], worker: bool, expected: str
) -> None:
    store = open_store(load_settings(environ=environ), worker=worker)
    assert isinstance(store, SqliteStore)
    assert store._writer_kind == expected


def test_an_unknown_sqlite_writer_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"store\.sqlite_writer"):
        load_settings(environ={"RADAR_STORE__SQLITE_WRITER": "fork"})
