"""Runtime configuration from environment variables (SPEC §7), validated once at start-up.

Every variable is named exactly as in README's configuration table. `load_settings()`
turns pydantic's validation errors into one `SettingsError` whose message names the
variable (``ASSETSTREAM_PARTITIONS: must be ≥ 1``), so a bad value stops the
process with a readable line instead of a traceback.

Clients are never built here: `broker_credentials()` and `aiokafka_kwargs()` only
translate the security variables for faust and aiokafka.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "Settings",
    "SettingsError",
    "aiokafka_kwargs",
    "app_id",
    "broker_credentials",
    "faust_broker_urls",
    "load_settings",
    "parse_duration",
    "redact_url",
    "topic_name",
]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_STORE_SCHEMES = ("rocksdb://", "memory://")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


class SettingsError(ValueError):
    """A configuration variable has an invalid value; the message names the variable."""


REDACTED = "***"
# redis-py also reads the password from the query string (?password=…).
_QUERY_PASSWORD = re.compile(r"(?i)(^|&)(password=)[^&]*")


def redact_url(url: str) -> str:
    """`url` as it may be printed or logged: its password replaced by ``***``.

    Both places a Redis URL can carry one are masked: the user-info
    (``redis://user:secret@host``, ``redis://:secret@host``) and a ``password``
    query parameter. A URL that cannot be parsed is masked whole after its scheme,
    since where its password is cannot be told.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}{sep}{REDACTED}" if sep else REDACTED
    netloc = parts.netloc
    # The host never contains "@", so the user-info ends at the last one.
    userinfo, at, host = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon and password:
            netloc = f"{user}:{REDACTED}@{host}"
    query = _QUERY_PASSWORD.sub(rf"\g<1>\g<2>{REDACTED}", parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    # Built by hand: urlunsplit drops the "//" of unix:///path (an empty host).
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    if query:
        shown += f"?{query}"
    return f"{shown}#{parts.fragment}" if parts.fragment else shown


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``24h``, ``30m``, ``90s``, ``2d``, ``500ms``, ``1h30m`` or plain seconds (``3600``).

    Raises ValueError on anything else, including negative values.
    """
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise ValueError("empty duration")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return dt.timedelta(seconds=float(cleaned))
    position = 0
    seconds = 0.0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(cleaned) or position == 0:
        raise ValueError(
            f"not a duration: {text!r} (use e.g. 24h, 30m, 90s, 2d, 500ms or plain seconds)"
        )
    return dt.timedelta(seconds=seconds)


class Settings(BaseSettings):
    """All runtime settings. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    # SPEC §7
    kafka_bootstrap_servers: str = Field("localhost:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    redis_url: str = Field("redis://localhost:6379/0", alias="REDIS_URL")
    topic_prefix: str = Field("", alias="ASSETSTREAM_TOPIC_PREFIX")
    partitions: int = Field(8, alias="ASSETSTREAM_PARTITIONS")
    as_of: dt.date | None = Field(None, alias="ASSETSTREAM_AS_OF")
    # Test-only: a file whose date the worker's clock reads on every call (streams.clock).
    as_of_file: Path | None = Field(None, alias="ASSETSTREAM_AS_OF_FILE")
    pending_grace: dt.timedelta = Field(dt.timedelta(hours=24), alias="ASSETSTREAM_PENDING_GRACE")
    store: str = Field("rocksdb://", alias="ASSETSTREAM_STORE")
    data_dir: Path = Field(Path("./data"), alias="ASSETSTREAM_DATA_DIR")

    # Kafka security, passed through to faust and aiokafka.
    kafka_security_protocol: SecurityProtocol = Field("PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: SaslMechanism = Field("PLAIN", alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, alias="KAFKA_SASL_PASSWORD")
    kafka_ssl_ca_file: Path | None = Field(None, alias="KAFKA_SSL_CA_FILE")

    # Processes.
    web_port: int = Field(6066, alias="ASSETSTREAM_WEB_PORT")
    api_host: str = Field("127.0.0.1", alias="ASSETSTREAM_API_HOST")
    api_port: int = Field(8000, alias="ASSETSTREAM_API_PORT")
    api_token: SecretStr | None = Field(None, alias="ASSETSTREAM_API_TOKEN")
    tick_seconds: float = Field(5.0, alias="ASSETSTREAM_TICK_SECONDS")
    web_bind: str = Field("127.0.0.1", alias="ASSETSTREAM_WEB_BIND")

    # The hot path: publication window, message sizes, compression.
    publish_window: dt.timedelta = Field(
        dt.timedelta(milliseconds=100), alias="ASSETSTREAM_PUBLISH_WINDOW"
    )
    max_message_bytes: int = Field(8 * 1024 * 1024, alias="ASSETSTREAM_MAX_MESSAGE_BYTES")
    max_snapshot_bytes: int = Field(4 * 1024 * 1024, alias="ASSETSTREAM_MAX_SNAPSHOT_BYTES")
    compression: Literal["zstd", "lz4", "gzip", "none"] = Field(
        "lz4", alias="ASSETSTREAM_COMPRESSION"
    )

    # Replication on a real cluster.
    replication_factor: int = Field(1, alias="ASSETSTREAM_REPLICATION_FACTOR")
    min_insync_replicas: int | None = Field(None, alias="ASSETSTREAM_MIN_INSYNC_REPLICAS")
    standby_replicas: int = Field(0, alias="ASSETSTREAM_STANDBY_REPLICAS")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("must list at least one host:port")
        for server in servers:
            bare = server.removeprefix("kafka://")
            host, sep, port = bare.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(s.removeprefix("kafka://") for s in servers)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if not value.startswith(_REDIS_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(_REDIS_SCHEMES)}")
        return value

    @field_validator("as_of_file")
    @classmethod
    def _check_as_of_file(cls, value: Path | None) -> Path | None:
        """``ASSETSTREAM_AS_OF_FILE`` (tests only): a file holding one date, ``YYYY-MM-DD``.

        The worker reads it on every look at the date, so a test moves the clock by
        rewriting it (atomically: write another file, rename it over). While it is absent,
        ``ASSETSTREAM_AS_OF`` or today (UTC) applies; text that is not a date is ignored with
        a warning. The file may be created later, but its folder must exist now, and the
        path must not be a folder, so that a mistyped path is a start-up error.
        """
        if value is None:
            return None
        if value.is_dir():
            raise ValueError(f"is a folder, not a file: {value}")
        if not value.parent.is_dir():
            raise ValueError(f"folder not found: {value.parent}")
        return value

    @field_validator("partitions")
    @classmethod
    def _check_partitions(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be ≥ 1")
        return value

    @field_validator("pending_grace", "publish_window", mode="before")
    @classmethod
    def _parse_grace(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.timedelta(seconds=value)
        return value

    @field_validator("pending_grace", "publish_window")
    @classmethod
    def _check_grace(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if not value.startswith(_STORE_SCHEMES):
            raise ValueError(f"must be one of {', '.join(_STORE_SCHEMES)}")
        return value

    @field_validator("web_port", "api_port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("must be a TCP port (1-65535)")
        return value

    @field_validator("replication_factor")
    @classmethod
    def _check_replication(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be ≥ 1")
        return value

    @field_validator("standby_replicas")
    @classmethod
    def _check_standby(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be ≥ 0")
        return value

    @field_validator("max_message_bytes")
    @classmethod
    def _check_message_bytes(cls, value: int) -> int:
        if not 1024 * 1024 <= value <= 64 * 1024 * 1024:
            raise ValueError("must be between 1 MiB (1048576) and 64 MiB")
        return value

    @field_validator("max_snapshot_bytes")
    @classmethod
    def _check_snapshot_bytes(cls, value: int) -> int:
        if value < 4096:
            raise ValueError("must be ≥ 4096")
        return value

    @field_validator("tick_seconds")
    @classmethod
    def _check_tick(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("must be > 0")
        return value

    @field_validator("kafka_ssl_ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @model_validator(mode="after")
    def _check_sizes_and_replicas(self) -> Settings:
        if self.max_snapshot_bytes > self.max_message_bytes:
            raise ValueError(
                "ASSETSTREAM_MAX_SNAPSHOT_BYTES: must not exceed ASSETSTREAM_MAX_MESSAGE_BYTES "
                f"({self.max_message_bytes})"
            )
        isr = self.min_insync_replicas
        if isr is not None and not 1 <= isr <= self.replication_factor:
            raise ValueError(
                "ASSETSTREAM_MIN_INSYNC_REPLICAS: must be between 1 and "
                f"ASSETSTREAM_REPLICATION_FACTOR ({self.replication_factor})"
            )
        return self

    @property
    def insync_replicas(self) -> int:
        """min.insync.replicas for the topics we create: 2 on a replicated cluster, else 1."""
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return 2 if self.replication_factor >= 3 else 1

    @model_validator(mode="after")
    def _check_sasl(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_"):
            if not self.kafka_sasl_username:
                raise ValueError(
                    "KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is "
                    f"{self.kafka_security_protocol}"
                )
            if self.kafka_sasl_password is None:
                raise ValueError(
                    "KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is "
                    f"{self.kafka_security_protocol}"
                )
        return self

    @property
    def bootstrap_servers(self) -> list[str]:
        """``KAFKA_BOOTSTRAP_SERVERS`` as a list of ``host:port``."""
        return self.kafka_bootstrap_servers.split(",")

    # ---- how secrets are shown ----------------------------------------------------------
    # KAFKA_SASL_PASSWORD and ASSETSTREAM_API_TOKEN are SecretStr (shown as **********).
    # REDIS_URL stays a plain str for its users, so its password is masked wherever the
    # settings are shown: repr(), str() and pydantic's pretty printers all read
    # __repr_args__.

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in _URL_FIELDS and isinstance(value, str):
                yield name, redact_url(value)
            else:
                yield name, value

    def redacted(self) -> dict[str, Any]:
        """Every setting by variable name, safe to print or log: no password, no token."""
        shown: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = REDACTED
            elif name in _URL_FIELDS and isinstance(value, str):
                value = redact_url(value)
            shown[field.alias or name] = value
        return shown


# Settings that are URLs which may embed a password.
_URL_FIELDS = frozenset({"redis_url"})


def _describe(error: Any) -> str:
    """One ValidationError entry as ``VARIABLE: message``."""
    loc = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if not loc:
        # Model-level errors already start with the variable name.
        return message
    return f"{loc[0]}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the environment; raise `SettingsError` naming each bad variable.

    ``overrides`` take precedence over the environment; keys are field names or
    variable names (``partitions=3`` or ``ASSETSTREAM_PARTITIONS=3``).
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise SettingsError("; ".join(lines)) from None


def topic_name(settings: Settings, base: str) -> str:
    """The real topic name: ``ASSETSTREAM_TOPIC_PREFIX`` + base."""
    return f"{settings.topic_prefix}{base}"


def app_id(settings: Settings) -> str:
    """The Faust app id (consumer group, changelog topic prefix): prefix + ``assetstream``."""
    return f"{settings.topic_prefix}assetstream"


def faust_broker_urls(settings: Settings) -> list[str]:
    """``KAFKA_BOOTSTRAP_SERVERS`` in faust's URL form (``kafka://host:port``)."""
    return [f"kafka://{server}" for server in settings.bootstrap_servers]


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)


def broker_credentials(settings: Settings) -> Any:
    """The value for ``faust.App(broker_credentials=...)``: None for PLAINTEXT.

    SSL -> an `ssl.SSLContext`; SASL_* -> `faust.SASLCredentials` (with an SSL
    context for SASL_SSL). faust is imported here only, so settings stay cheap.
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return _ssl_context(settings)
    from faust.auth import SASLCredentials

    password = settings.kafka_sasl_password
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=_ssl_context(settings) if protocol == "SASL_SSL" else None,
    )


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka producers, consumers and admin clients."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = password.get_secret_value() if password else None
    return kwargs
