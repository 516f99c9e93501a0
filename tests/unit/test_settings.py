"""Configuration from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest

from streams.settings import (
    Settings,
    SettingsError,
    aiokafka_kwargs,
    app_id,
    broker_credentials,
    faust_broker_urls,
    load_settings,
    parse_duration,
    topic_name,
)

ALL_VARIABLES = [field.alias for field in Settings.model_fields.values() if field.alias is not None]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_spec_table() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.topic_prefix == ""
    assert settings.partitions == 8
    assert settings.as_of is None
    assert settings.pending_grace == dt.timedelta(hours=24)
    assert settings.store == "rocksdb://"
    assert settings.data_dir == Path("./data")
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.web_port == 6066
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert settings.api_token is None
    assert settings.tick_seconds == 5


def test_variables_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    monkeypatch.setenv("ASSETSTREAM_TOPIC_PREFIX", "run42.")
    monkeypatch.setenv("ASSETSTREAM_PARTITIONS", "3")
    monkeypatch.setenv("ASSETSTREAM_AS_OF", "2026-03-01")
    monkeypatch.setenv("ASSETSTREAM_PENDING_GRACE", "30m")
    monkeypatch.setenv("ASSETSTREAM_STORE", "memory://")
    monkeypatch.setenv("ASSETSTREAM_API_TOKEN", "s3cret")
    settings = load_settings()
    assert settings.bootstrap_servers == ["k1:9092", "k2:9093"]
    assert faust_broker_urls(settings) == ["kafka://k1:9092", "kafka://k2:9093"]
    assert settings.partitions == 3
    assert settings.as_of == dt.date(2026, 3, 1)
    assert settings.pending_grace == dt.timedelta(minutes=30)
    assert settings.store == "memory://"
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETSTREAM_AS_OF", "")
    monkeypatch.setenv("ASSETSTREAM_PARTITIONS", "")
    settings = load_settings()
    assert settings.as_of is None
    assert settings.partitions == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", dt.timedelta(hours=24)),
        ("30m", dt.timedelta(minutes=30)),
        ("90s", dt.timedelta(seconds=90)),
        ("2d", dt.timedelta(days=2)),
        ("500ms", dt.timedelta(milliseconds=500)),
        ("1h30m", dt.timedelta(minutes=90)),
        ("3600", dt.timedelta(hours=1)),
        ("0", dt.timedelta(0)),
        (" 1.5h ", dt.timedelta(minutes=90)),
    ],
)
def test_durations_accept_units_and_plain_seconds(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "10x", "h", "-5m", "5m3", "1e3"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ASSETSTREAM_PARTITIONS", "0", "ASSETSTREAM_PARTITIONS: must be ≥ 1"),
        ("ASSETSTREAM_PARTITIONS", "eight", "ASSETSTREAM_PARTITIONS:"),
        ("ASSETSTREAM_PENDING_GRACE", "soon", "ASSETSTREAM_PENDING_GRACE: not a duration"),
        ("ASSETSTREAM_AS_OF", "2026-02-30", "ASSETSTREAM_AS_OF:"),
        ("ASSETSTREAM_STORE", "redis://", "ASSETSTREAM_STORE: must be one of"),
        ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "KAFKA_BOOTSTRAP_SERVERS: 'localhost' is not"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: must start with"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS", "KAFKA_SECURITY_PROTOCOL:"),
        ("KAFKA_SASL_MECHANISM", "GSSAPI", "KAFKA_SASL_MECHANISM:"),
        ("KAFKA_SSL_CA_FILE", "/nonexistent/ca.pem", "KAFKA_SSL_CA_FILE: file not found"),
        ("ASSETSTREAM_WEB_PORT", "70000", "ASSETSTREAM_WEB_PORT: must be a TCP port"),
        ("ASSETSTREAM_API_PORT", "0", "ASSETSTREAM_API_PORT: must be a TCP port"),
        ("ASSETSTREAM_TICK_SECONDS", "0", "ASSETSTREAM_TICK_SECONDS: must be > 0"),
    ],
)
def test_invalid_values_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(message), str(error.value)


def test_sasl_needs_a_username_and_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(SettingsError, match=r"^KAFKA_SASL_USERNAME: required"):
        load_settings()
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    with pytest.raises(SettingsError, match=r"^KAFKA_SASL_PASSWORD: required"):
        load_settings()


def test_overrides_take_field_or_variable_names() -> None:
    assert load_settings(partitions=3).partitions == 3
    assert load_settings(ASSETSTREAM_PARTITIONS=4).partitions == 4


def test_topic_names_and_app_id_carry_the_prefix() -> None:
    plain = load_settings()
    prefixed = load_settings(topic_prefix="ci-7.")
    assert topic_name(plain, "assets.snapshots") == "assets.snapshots"
    assert topic_name(prefixed, "assets.snapshots") == "ci-7.assets.snapshots"
    assert app_id(plain) == "assetstream"
    assert app_id(prefixed) == "ci-7.assetstream"


def test_plaintext_needs_no_credentials() -> None:
    settings = load_settings()
    assert broker_credentials(settings) is None
    assert aiokafka_kwargs(settings) == {
        "bootstrap_servers": "localhost:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_ssl_builds_faust_credentials_and_aiokafka_kwargs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from faust.auth import SASLCredentials
    from faust.types.auth import AuthProtocol

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    settings = load_settings()

    credentials = broker_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("svc", "pw")
    assert isinstance(credentials.ssl_context, ssl.SSLContext)

    kwargs = aiokafka_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("svc", "pw")
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)


def test_ssl_returns_a_context_for_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    assert isinstance(broker_credentials(load_settings()), ssl.SSLContext)


@pytest.mark.parametrize(
    "argv",
    [
        ["worker"],
        ["produce", "-"],
        ["inspect", "assets.snapshots"],
        ["topology"],
        ["project"],
        ["api"],
        ["status"],
    ],
)
def test_every_command_refuses_bad_settings_in_one_line_and_exits_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli import main

    monkeypatch.setenv("ASSETSTREAM_PARTITIONS", "none")
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"assetstream {argv[0]}: ASSETSTREAM_PARTITIONS: ")
