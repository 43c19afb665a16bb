"""The deploy files say what the code understands.

Every manifest parses; every ``RADAR_*`` variable a container sets names a real setting
and, together with the settings file it is shipped with, loads without error; every
container command is a ``radar`` subcommand; every secret a container reads exists in the
example Secret; the worker autoscaler stays within the posts topic's partitions; and the
Kibana saved objects reference what they define.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from pipeline.cli import build_parser
from pipeline.config import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
YAML_FILES = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
COMPOSE = DEPLOY / "docker-compose.yml"
SETTINGS_FILE = DEPLOY / "radar.toml"
KIBANA = ROOT / "dashboards" / "kibana" / "radar.ndjson"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


def _k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in YAML_FILES if path.parent.name == "k8s" for doc in _docs(path)]


def _configmap_toml(tmp_path: Path) -> Path:
    (configmap,) = [d for d in _k8s_docs() if d["kind"] == "ConfigMap"]
    path = tmp_path / "radar.toml"
    path.write_text(configmap["data"]["radar.toml"], encoding="utf-8")
    return path


def _compose_containers() -> dict[str, tuple[list[str], dict[str, str]]]:
    services = _docs(COMPOSE)[0]["services"]
    return {
        name: (list(svc.get("command") or []), {k: str(v) for k, v in svc["environment"].items()})
        for name, svc in services.items()
        if svc.get("image", "").startswith("heichan-radar")
    }


def _k8s_containers() -> dict[str, tuple[list[str], dict[str, Any]]]:
    out = {}
    for doc in _k8s_docs():
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
            out[f"{doc['metadata']['name']}/{container['name']}"] = (container["args"], env)
    return out


def _setting_exists(name: str) -> bool:
    """``RADAR_STREAM__KAFKA__PARTITIONS`` → Settings.stream.kafka.partitions exists."""
    node: Any = Settings
    for part in name[len(ENV_PREFIX) :].lower().split("__"):
        fields = {f.name: f.type for f in msgspec.structs.fields(node)}
        if part not in fields:
            return False
        node = fields[part]
        for arg in getattr(node, "__args__", ()):  # `X | None`: the Struct side
            if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                node = arg
    return True


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_deploy_file_parses(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path} is empty"
    if path.parent.name == "k8s":
        assert all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs)


def test_the_deploy_files_are_all_checked() -> None:
    names = {str(p.relative_to(DEPLOY)) for p in YAML_FILES}
    assert "docker-compose.yml" in names
    kinds = {d["kind"] for d in _k8s_docs()}
    assert {"Deployment", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} <= kinds


def test_setting_lookup_rejects_unknown_names() -> None:
    assert _setting_exists("RADAR_STREAM__KAFKA__PARTITIONS")
    assert _setting_exists("RADAR_STREAM__KAFKA__SASL__MECHANISM")
    assert not _setting_exists("RADAR_STREAM__KAFKA__PARTITION")
    assert not _setting_exists("RADAR_KAFKA_PASSWORD")


def test_compose_env_names_are_settings_and_load_with_the_settings_file() -> None:
    containers = _compose_containers()
    assert {"collector", "worker", "dashboard"} <= set(containers)
    for name, (_, env) in containers.items():
        radar_env = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        unknown = [k for k in radar_env if k != "RADAR_CONFIG" and not _setting_exists(k)]
        assert unknown == [], f"{name}: no such setting: {unknown}"
        settings = load_settings(SETTINGS_FILE, environ=radar_env)
        assert settings.stream.kind == "kafka"
        assert settings.store.kind == "elasticsearch"


def test_k8s_env_names_are_settings_and_load_with_the_configmap(tmp_path: Path) -> None:
    config = _configmap_toml(tmp_path)
    containers = _k8s_containers()
    assert len(containers) >= 3
    for name, (_, env) in containers.items():
        radar_env = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        unknown = [k for k in radar_env if k != "RADAR_CONFIG" and not _setting_exists(k)]
        assert unknown == [], f"{name}: no such setting: {unknown}"
        assert all(isinstance(v, str) for v in radar_env.values()), "settings are not secrets"
        load_settings(config, environ=radar_env)


def test_secrets_the_settings_name_reach_the_containers_that_need_them(tmp_path: Path) -> None:
    settings = load_settings(_configmap_toml(tmp_path), environ={})
    kafka, es = settings.stream.kafka, settings.store.elasticsearch
    assert kafka.sasl is not None
    (secret,) = [d for d in _k8s_docs() if d["kind"] == "Secret"]
    for name, (args, env) in _k8s_containers().items():
        needed = {es.password_env}
        if args[0] in ("worker", "collect"):
            needed |= {kafka.sasl.username_env, kafka.sasl.password_env}
        if args[0] == "worker":  # workers send the alert e-mails
            assert settings.alerts.smtp.password_env is not None
            needed.add(settings.alerts.smtp.password_env)
        for variable in needed:
            assert variable in env, f"{name} lacks {variable}"
            ref = env[variable]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            assert ref["key"] in secret["stringData"]


def test_container_commands_are_radar_subcommands() -> None:
    parser = build_parser()
    commands = [c for c, _ in _compose_containers().values()]
    commands += [args for args, _ in _k8s_containers().values()]
    for command in commands:
        args = parser.parse_args(command)
        assert args.command in ("collect", "worker", "run")
        if args.command == "collect":
            assert not args.once, "the collector process runs on schedule"


def test_workers_never_outnumber_partitions(tmp_path: Path) -> None:
    partitions = load_settings(_configmap_toml(tmp_path), environ={}).stream.kafka.partitions
    (hpa,) = [d for d in _k8s_docs() if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "radar-worker"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    compose_workers = _docs(COMPOSE)[0]["services"]["worker"]["deploy"]["replicas"]
    assert compose_workers == 3
    assert compose_workers <= load_settings(SETTINGS_FILE, environ={}).stream.kafka.partitions


def test_kibana_objects_parse_and_reference_what_they_define() -> None:
    objects = [json.loads(line) for line in KIBANA.read_text("utf-8").splitlines() if line]
    by_id = {(o["type"], o["id"]) for o in objects}
    (view,) = [o for o in objects if o["type"] == "index-pattern"]
    assert view["attributes"]["title"].startswith("radar-posts")
    fields = {"categories", "platform", "posted_at", "account_key", "flagged"}
    for field in fields:
        assert field in json.dumps(objects), f"no panel uses {field}"
    for obj in objects:
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in by_id, f"{obj['id']} → missing {ref}"
    assert any(o["type"] == "dashboard" for o in objects)


def test_compose_mounts_the_settings_file_it_ships() -> None:
    tomllib.loads(SETTINGS_FILE.read_text("utf-8"))  # valid TOML
    worker = _docs(COMPOSE)[0]["services"]["worker"]
    assert "./radar.toml:/etc/radar/radar.toml:ro" in worker["volumes"]
    assert worker["environment"]["RADAR_CONFIG"] == "/etc/radar/radar.toml"
