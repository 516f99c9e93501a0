"""docker-compose.yml agrees with the settings, the CLI and the local scripts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.cli import SUBCOMMANDS
from streams.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("worker", "projector", "api")
SETTING_VARIABLES = {f.alias for f in Settings.model_fields.values() if f.alias}
_SUBSTITUTION = re.compile(r"\$\{(\w+):-([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with ``${VAR:-default}`` replaced by its default."""
    env = service.get("environment", {})
    return {k: _SUBSTITUTION.sub(lambda m: m.group(2), str(v)) for k, v in env.items()}


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}


def test_compose_has_kafka_redis_worker_projector_and_api(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "redis", *APP_SERVICES}


def test_kafka_is_the_official_image_at_the_version_the_scripts_run(
    compose: dict[str, Any],
) -> None:
    script = (ROOT / "scripts" / "kafka.sh").read_text()
    match = re.search(r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([\d.]+)\}"', script)
    assert match is not None
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{match.group(1)}"
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_use_only_known_variables(compose: dict[str, Any], name: str) -> None:
    unknown = set(_environment(compose["services"][name])) - SETTING_VARIABLES
    assert not unknown, f"{name} sets variables streams/settings.py does not read: {unknown}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_environment_is_valid_settings(compose: dict[str, Any], name: str) -> None:
    env = _environment(compose["services"][name])
    settings = load_settings(**{k: v for k, v in env.items() if v != ""})
    # Defaults written in the compose file are the settings' own defaults.
    defaults = Settings.model_construct()
    assert settings.partitions == defaults.partitions
    assert settings.pending_grace == defaults.pending_grace
    assert settings.store == defaults.store
    assert settings.tick_seconds == defaults.tick_seconds


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_reach_kafka_and_redis_by_service_name(
    compose: dict[str, Any], name: str
) -> None:
    env = _environment(compose["services"][name])
    kafka_env = compose["services"]["kafka"]["environment"]
    assert f"PLAINTEXT://{env['KAFKA_BOOTSTRAP_SERVERS']}" in kafka_env[
        "KAFKA_ADVERTISED_LISTENERS"
    ].split(",")
    assert env["REDIS_URL"].startswith("redis://redis:6379/")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_run_existing_subcommands(compose: dict[str, Any], name: str) -> None:
    command = compose["services"][name]["command"]
    assert command[0] in SUBCOMMANDS
    assert compose["services"][name]["build"] == "."


def test_published_ports_match_the_configured_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert _container_ports(services["worker"]) == {
        int(_environment(services["worker"])["ASSETSTREAM_WEB_PORT"])
    }
    assert _container_ports(services["api"]) == {
        int(_environment(services["api"])["ASSETSTREAM_API_PORT"])
    }
    assert _container_ports(services["kafka"]) == {9092}
    assert _container_ports(services["redis"]) == {6379}
    # The host-facing ports are the defaults a local run uses.
    defaults = Settings.model_construct()
    assert defaults.kafka_bootstrap_servers.endswith(":9092")
    assert defaults.redis_url.startswith("redis://localhost:6379")
    assert defaults.api_port == 8000
    assert defaults.web_port == 6066


def test_dockerfile_runs_the_assetstream_entry_point() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["assetstream"]' in dockerfile
    assert "pip install ." in dockerfile
