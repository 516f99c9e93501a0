"""No secret in reprs, logs or command output (issue 12).

Found in review: the settings' repr and `assetstream topology` printed REDIS_URL with
its password. The secrets are the Redis URL's password (user-info or `?password=`),
KAFKA_SASL_PASSWORD and ASSETSTREAM_API_TOKEN.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.settings import Settings, SettingsError, load_settings, redact_url

REPO = Path(__file__).resolve().parents[2]
ALL_VARIABLES = [field.alias for field in Settings.model_fields.values() if field.alias is not None]

REDIS_PASSWORD = "hunter2-redis"
QUERY_PASSWORD = "qs-pw-77"
SASL_PASSWORD = "kafka-sasl-pw-9"
API_TOKEN = "api-token-1234"
SECRETS = (REDIS_PASSWORD, QUERY_PASSWORD, SASL_PASSWORD, API_TOKEN)

SECRET_ENVIRONMENT = {
    "REDIS_URL": f"redis://reader:{REDIS_PASSWORD}@redis.internal:6380/2?password={QUERY_PASSWORD}",
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "assetstream",
    "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
    "ASSETSTREAM_API_TOKEN": API_TOKEN,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in SECRET_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{leaked} in {text!r}"


def test_repr_and_str_of_the_settings_show_no_password_or_token(secret_settings: Settings) -> None:
    for shown in (repr(secret_settings), str(secret_settings), f"{secret_settings!r}"):
        assert_no_secret(shown)
        assert "redis://reader:***@redis.internal:6380/2?password=***" in shown
    # The values themselves are intact for the code that connects.
    assert REDIS_PASSWORD in secret_settings.redis_url
    assert secret_settings.kafka_sasl_password is not None
    assert secret_settings.kafka_sasl_password.get_secret_value() == SASL_PASSWORD


def test_redacted_settings_name_every_variable_and_mask_the_secrets(
    secret_settings: Settings,
) -> None:
    shown = secret_settings.redacted()
    assert set(shown) == set(ALL_VARIABLES)
    assert_no_secret(repr(shown))
    assert shown["KAFKA_SASL_PASSWORD"] == shown["ASSETSTREAM_API_TOKEN"] == "***"
    assert shown["KAFKA_SASL_USERNAME"] == "assetstream"
    assert shown["REDIS_URL"] == "redis://reader:***@redis.internal:6380/2?password=***"


def test_logging_the_settings_logs_no_secret(
    secret_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("assetstream.test").info("starting with %s / %r", secret_settings,
                                                   secret_settings)  # fmt: skip
    assert "redis.internal" in caplog.text
    assert_no_secret(caplog.text)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("redis://user:p%40ss@h/0", "redis://user:***@h/0"),
        ("redis://us:p@ss@h", "redis://us:***@h"),  # an unescaped @ in the password
        ("rediss://h:6379/0?ssl_cert_reqs=none&password=pw", "rediss://h:6379/0?ssl_cert_reqs=none&password=***"),
        ("unix://:pw@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=***"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://user@localhost", "redis://user@localhost"),
        ("redis://:pw@[::1", "redis://***"),  # unparseable: everything after the scheme
    ],
)  # fmt: skip
def test_a_redis_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "bad",
    [
        {"REDIS_URL": f"http://:{REDIS_PASSWORD}@redis.internal"},  # wrong scheme
        {"KAFKA_SASL_USERNAME": ""},  # SASL without a user, with a password set
        {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SSL_CA_FILE": "/nonexistent/ca.pem"},
        {"KAFKA_SASL_MECHANISM": SASL_PASSWORD},  # a password pasted into the wrong variable
        {"ASSETSTREAM_PARTITIONS": "0", "ASSETSTREAM_WEB_PORT": "http"},
    ],
)
def test_configuration_errors_never_quote_a_secret(
    monkeypatch: pytest.MonkeyPatch, bad: dict[str, str]
) -> None:
    for name, value in {**SECRET_ENVIRONMENT, **bad}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert_no_secret(str(caught.value))
    assert_no_secret(repr(caught.value))


def topology(**environment: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ALL_VARIABLES}
    return subprocess.run([sys.executable, "-m", "streams.cli", "topology"], cwd=REPO,
                          env={**env, **environment}, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_topology_prints_the_redis_url_without_its_password() -> None:
    result = topology(**SECRET_ENVIRONMENT)
    assert result.returncode == 0, result.stderr
    assert "Redis redis://reader:***@redis.internal:6380/2?password=***" in result.stdout
    assert_no_secret(result.stdout + result.stderr)


def test_topology_reports_a_bad_configuration_without_the_secret() -> None:
    result = topology(**{**SECRET_ENVIRONMENT, "REDIS_URL": f"ftp://:{REDIS_PASSWORD}@h"})
    assert result.returncode == 2
    assert "REDIS_URL: must start with one of" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr)
