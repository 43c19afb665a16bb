"""Settings: ``radar.toml`` (from ``--config`` or ``RADAR_CONFIG``) plus ``RADAR_*`` env.

Settings are msgspec Structs with ``forbid_unknown_fields``, so a typo is an error rather
than a silently ignored key, and msgspec's error path (``$.dashboard.port``) becomes the
one-line message an operator sees: ``radar.toml: dashboard.port: Expected `int`, got `str```.

Environment overrides use ``__`` for nesting (``RADAR_DASHBOARD__PORT=8700``,
``RADAR_SAMPLE__DURATION_SECONDS=10``) because secrets and per-deployment values belong in
the environment, never in a committed file. Sources are a list of tables in the file;
each source's own options are typed by the collector registry (see ``collectors``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from collectors.registry import known_source_kinds, source_settings_union
from collectors.scheduler import trigger_for
from pipeline.alerts.settings import AlertSettings, secret_in_file
from pipeline.kafka_settings import KafkaSettings
from pipeline.rings.settings import RingSettings
from pipeline.store.es_settings import ElasticsearchSettings
from pipeline.takedown.settings import TakedownSettings, takedown_trigger

ENV_PREFIX = "RADAR_"
CONFIG_ENV = "RADAR_CONFIG"
SAMPLE_CONFIG = Path(__file__).with_name("radar.sample.toml")


class ConfigError(Exception):
    """A settings problem, phrased as one line that names the key."""


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class StoreSettings(_Section):
    kind: Literal["sqlite", "elasticsearch"] = "sqlite"
    # Relative to data_dir unless absolute.
    sqlite_path: str = "radar.sqlite3"
    # Where the SQLite store's one writer runs: "thread" (in this process), "process" (a
    # core of its own, its rows sent over a pipe), or "auto": a process for `radar
    # worker`, a thread for everything else (pipeline.store.factory says why).
    sqlite_writer: Literal["auto", "thread", "process"] = "auto"
    elasticsearch: ElasticsearchSettings = msgspec.field(default_factory=ElasticsearchSettings)


class StreamSettings(_Section):
    # "kafka": `radar collect` publishes, `radar worker` processes (the scale-out mode).
    kind: Literal["inprocess", "kafka"] = "inprocess"
    # Bounded queues give back-pressure: a fast source waits instead of filling memory.
    queue_size: int = 2_000
    batch_size: int = 500
    flush_interval_seconds: float = 0.5
    max_text_chars: int = 20_000
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)


class DashboardSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8600


class DetectorSettings(_Section):
    # A directory of lexicon *.toml files replacing the bundled one (for analysts' edits).
    lexicon_dir: str | None = None


class SampleSettings(_Section):
    """The bundled sample feed, played as a live source so a new user sees results."""

    # None = automatic: on when no [[sources]] are configured.
    enabled: bool | None = None
    duration_seconds: float = 120.0
    interval_seconds: float = 2.0
    path: str | None = None


class Settings(_Section):
    data_dir: str = "./radar-data"
    timezone: str = "Asia/Shanghai"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    stream: StreamSettings = msgspec.field(default_factory=StreamSettings)
    dashboard: DashboardSettings = msgspec.field(default_factory=DashboardSettings)
    detector: DetectorSettings = msgspec.field(default_factory=DetectorSettings)
    sample: SampleSettings = msgspec.field(default_factory=SampleSettings)
    takedown: TakedownSettings = msgspec.field(default_factory=TakedownSettings)
    rings: RingSettings = msgspec.field(default_factory=RingSettings)
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)
    sources: list[Any] = msgspec.field(default_factory=list)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def sqlite_file(self) -> Path:
        path = Path(self.store.sqlite_path).expanduser()
        return path if path.is_absolute() else self.data_path / path

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sample_enabled(self) -> bool:
        if self.sample.enabled is None:
            return not self.sources
        return self.sample.enabled


def _format_validation_error(origin: str, error: msgspec.ValidationError) -> str:
    message = str(error)
    match = re.search(r"^(.*?) - at `\$(.*)`$", message)
    if not match:
        return f"{origin}: {message}"
    problem, path = match.groups()
    key = path.lstrip(".").replace("][", "].[") or "(top level)"
    return f"{origin}: {key}: {problem}"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if not all(parts):
            raise ConfigError(f"environment: {name}: empty key segment")
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment: {name}: conflicts with RADAR_{part.upper()}")
            node = child
        node[parts[-1]] = value
    return tree


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (run `radar init {path}`)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_settings(
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """File, then environment, then command-line overrides (each wins over the former)."""
    environ = os.environ if environ is None else environ
    path = config_path or environ.get(CONFIG_ENV)
    origin = str(path) if path else "settings"
    data: dict[str, Any] = _read_toml(Path(path)) if path else {}
    secret = secret_in_file(data)
    if secret:
        raise ConfigError(f"{origin}: {secret}")
    env = _env_overrides(environ)
    if env:
        data = _merge(data, env)
        origin = f"{origin} (with RADAR_* environment)" if path else "environment"
    if overrides:
        data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    try:
        # strict=False lets environment strings become ints / floats / bools.
        settings = msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_format_validation_error(origin, exc)) from None
    settings.sources = [
        _convert_source(raw, f"{origin}: sources[{index}]")
        for index, raw in enumerate(settings.sources)
    ]
    _check_values(settings, origin)
    return settings


def _convert_source(raw: Any, origin: str) -> Any:
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ConfigError(f"{origin}: each [[sources]] table needs a `kind`")
    try:
        return msgspec.convert(raw, source_settings_union(), strict=False)
    except msgspec.ValidationError as exc:
        return _raise_source_error(origin, raw, exc)


def _raise_source_error(origin: str, raw: dict[str, Any], exc: msgspec.ValidationError) -> Any:
    if str(exc).endswith("at `$.kind`"):
        known = ", ".join(sorted(known_source_kinds()))
        raise ConfigError(f"{origin}: kind: unknown source kind {raw['kind']!r} (known: {known})")
    raise ConfigError(_format_validation_error(origin, exc)) from None


def _check_values(settings: Settings, origin: str) -> None:
    try:
        settings.tz  # noqa: B018 - validates the zone name
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{origin}: timezone: unknown zone {settings.timezone!r}") from None
    checks = [
        ("dashboard.port", 0 <= settings.dashboard.port <= 65535, "must be 0..65535"),
        ("stream.queue_size", settings.stream.queue_size >= 1, "must be at least 1"),
        ("stream.batch_size", settings.stream.batch_size >= 1, "must be at least 1"),
        ("stream.max_text_chars", settings.stream.max_text_chars >= 100, "must be >= 100"),
        ("sample.duration_seconds", settings.sample.duration_seconds >= 0, "must be >= 0"),
        ("sample.interval_seconds", settings.sample.interval_seconds > 0, "must be > 0"),
    ]
    for key, ok, problem in checks:
        if not ok:
            raise ConfigError(f"{origin}: {key}: {problem}")
    if problems := settings.rings.problems():
        key, problem = problems[0]
        raise ConfigError(f"{origin}: {key}: {problem}")
    try:
        takedown_trigger(settings.takedown, settings.tz)
    except ValueError as exc:
        raise ConfigError(f"{origin}: takedown.schedule: {exc}") from None
    for index, source in enumerate(settings.sources):
        if source.cron:
            try:
                trigger_for(source, settings.tz)
            except ValueError as exc:
                raise ConfigError(f"{origin}: sources[{index}].cron: {exc}") from None
        elif source.interval_seconds <= 0:
            raise ConfigError(f"{origin}: sources[{index}].interval_seconds: must be > 0")
    names = [source.name for source in settings.sources]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: sources: duplicate name {duplicates[0]!r}")


def write_sample_config(path: Path, *, force: bool = False) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists (use --force to overwrite)")
    path.write_text(SAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
