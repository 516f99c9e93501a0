"""docker-compose.yml agrees with the settings, the CLI and the local scripts.

The default stack is one broker; the "cluster" profile adds three KRaft nodes and a
worker, projection and API with replication factor 3 (scripts/kafka-cluster.sh runs the
same cluster without Docker).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.cli import SUBCOMMANDS
from streams.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("worker", "projector", "api")
CLUSTER_BROKERS = ("kafka-1", "kafka-2", "kafka-3")
CLUSTER_APP_SERVICES = ("worker-cluster", "projector-cluster", "api-cluster")
ALL_APP_SERVICES = APP_SERVICES + CLUSTER_APP_SERVICES
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


def _default_services(compose: dict[str, Any]) -> set[str]:
    return {name for name, service in compose["services"].items() if not service.get("profiles")}


def _profile_services(compose: dict[str, Any], profile: str) -> set[str]:
    return {
        name
        for name, service in compose["services"].items()
        if profile in service.get("profiles", [])
    }


def test_compose_has_kafka_redis_worker_projector_and_api(compose: dict[str, Any]) -> None:
    # `docker compose up` (no profile) is the single-broker stack, as before.
    assert _default_services(compose) == {"kafka", "redis", *APP_SERVICES}
    assert set(compose["services"]) == {
        "kafka",
        "redis",
        *APP_SERVICES,
        *CLUSTER_BROKERS,
        *CLUSTER_APP_SERVICES,
    }


def test_kafka_is_the_official_image_at_the_version_the_scripts_run(
    compose: dict[str, Any],
) -> None:
    script = (ROOT / "scripts" / "kafka.sh").read_text()
    match = re.search(r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([\d.]+)\}"', script)
    assert match is not None
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{match.group(1)}"
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"


@pytest.mark.parametrize("name", ALL_APP_SERVICES)
def test_app_services_use_only_known_variables(compose: dict[str, Any], name: str) -> None:
    unknown = set(_environment(compose["services"][name])) - SETTING_VARIABLES
    assert not unknown, f"{name} sets variables streams/settings.py does not read: {unknown}"


@pytest.mark.parametrize("name", ALL_APP_SERVICES)
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


@pytest.mark.parametrize("name", ALL_APP_SERVICES)
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
    assert "pip install --no-deps ." in dockerfile


def test_the_image_holds_every_package_and_the_locked_dependencies() -> None:
    # An image without `service/` built fine and failed at the first import.
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    assert declared, "pyproject declares no packages"
    for package in declared:
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert "pip install --require-hashes -r requirements.lock" in dockerfile


def test_redis_keeps_its_data_across_restarts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(str(volume).endswith(":/data") for volume in redis.get("volumes", []))


# --- the "cluster" profile -------------------------------------------------------------


def _listeners(value: str) -> dict[str, str]:
    """``NAME://host:port,...`` as {NAME: "host:port"}."""
    pairs = (item.split("://", 1) for item in str(value).split(","))
    return {name: address for name, address in pairs}


def _brokers(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: _environment(compose["services"][name]) for name in CLUSTER_BROKERS}


def _script_default(script: str, variable: str) -> str:
    text = (ROOT / "scripts" / script).read_text()
    match = re.search(rf'"\$\{{{variable}:-([^}}]+)\}}"', text)
    assert match is not None, f"scripts/{script} has no default for {variable}"
    return match.group(1)


def _script_properties(script: str) -> dict[str, str]:
    """key=value lines of the server.properties heredoc a script writes."""
    text = (ROOT / "scripts" / script).read_text()
    body = text.split("<<PROPS\n", 1)[1].split("\nPROPS\n", 1)[0]
    return dict(
        line.split("=", 1) for line in body.splitlines() if line and not line.startswith("#")
    )


def test_cluster_profile_holds_three_brokers_and_their_apps(compose: dict[str, Any]) -> None:
    assert _profile_services(compose, "cluster") == {*CLUSTER_BROKERS, *CLUSTER_APP_SERVICES}
    version = _script_default("kafka.sh", "KAFKA_VERSION")
    assert _script_default("kafka-node.sh", "KAFKA_VERSION") == version
    for name in CLUSTER_BROKERS:
        service = compose["services"][name]
        assert service["image"] == f"apache/kafka:{version}"
        assert service["hostname"] == name
        assert service["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_cluster_quorum_voters_name_every_node_and_its_controller_listener(
    compose: dict[str, Any],
) -> None:
    brokers = _brokers(compose)
    voters = {env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in brokers.values()}
    assert len(voters) == 1, f"nodes disagree on the quorum: {voters}"
    cluster_ids = {env["CLUSTER_ID"] for env in brokers.values()}
    assert len(cluster_ids) == 1, "every node must be formatted with the same cluster id"
    expected = {}
    for name, env in brokers.items():
        controller = _listeners(env["KAFKA_LISTENERS"])[env["KAFKA_CONTROLLER_LISTENER_NAMES"]]
        expected[env["KAFKA_NODE_ID"]] = controller
        assert controller.split(":")[0] == name
    voter_map = dict(v.split("@", 1) for v in voters.pop().split(","))
    assert voter_map == expected
    assert sorted(voter_map) == ["1", "2", "3"]


def test_cluster_brokers_default_to_replication_factor_3_and_min_isr_2(
    compose: dict[str, Any],
) -> None:
    for env in _brokers(compose).values():
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_cluster_compose_and_local_script_configure_the_same_cluster(
    compose: dict[str, Any],
) -> None:
    """scripts/kafka-cluster.sh writes the settings the compose nodes get from KAFKA_* env."""
    properties = _script_properties("kafka-cluster.sh")
    # Addresses differ by design (container names vs 127.0.0.1); everything else agrees.
    addresses = {"listeners", "advertised.listeners", "listener.security.protocol.map"}
    compared = set()
    for env in _brokers(compose).values():
        for variable, value in env.items():
            key = variable.removeprefix("KAFKA_").lower().replace("_", ".")
            if key in properties and key not in addresses and "$" not in properties[key]:
                assert properties[key] == value, f"{key}: script {properties[key]}, compose {value}"
                compared.add(key)
    assert {
        "process.roles",
        "default.replication.factor",
        "min.insync.replicas",
        "auto.create.topics.enable",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    } <= compared
    # Host clients reach either cluster at the same addresses.
    base = int(_script_default("kafka-cluster.sh", "KAFKA_CLUSTER_PORT"))
    host_ports = [
        int(_listeners(env["KAFKA_ADVERTISED_LISTENERS"])["HOST"].rsplit(":", 1)[1])
        for env in _brokers(compose).values()
    ]
    assert host_ports == [base, base + 1, base + 2]


@pytest.mark.parametrize("name", CLUSTER_APP_SERVICES)
def test_cluster_apps_use_every_broker_with_replication_factor_3(
    compose: dict[str, Any], name: str
) -> None:
    env = _environment(compose["services"][name])
    settings = load_settings(**{k: v for k, v in env.items() if v != ""})
    advertised = {
        _listeners(broker["KAFKA_ADVERTISED_LISTENERS"])["PLAINTEXT"]
        for broker in _brokers(compose).values()
    }
    assert set(settings.bootstrap_servers) == advertised
    assert settings.replication_factor == 3
    assert settings.insync_replicas == 2
    assert settings.insync_replicas < settings.replication_factor <= len(CLUSTER_BROKERS)
    # Its own read model, so both stacks can run side by side.
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["REDIS_URL"] != _environment(compose["services"]["worker"])["REDIS_URL"]
    depends = compose["services"][name].get("depends_on", {})
    if name != "api-cluster":
        assert set(CLUSTER_BROKERS) <= set(depends)


def test_both_stacks_publish_distinct_host_ports(compose: dict[str, Any]) -> None:
    published: dict[int, str] = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host = int(str(port).split(":")[0])
            assert host not in published, f"{name} and {published[host]} both publish {host}"
            published[host] = name
    services = compose["services"]
    for name in ("worker-cluster", "api-cluster"):
        env = _environment(services[name])
        port = env.get("ASSETSTREAM_WEB_PORT") or env["ASSETSTREAM_API_PORT"]
        assert _container_ports(services[name]) == {int(port)}
