"""One frozen settings object, built from the environment and the optional YAML file.

Nothing else in the bridge reads `os.environ`. A missing or malformed value raises
`SettingsError` naming the variable; the CLI turns it into one line and exit status 2.
Every variable may also be given as `<NAME>_FILE` (a path whose contents are the
value), which suits Docker and Kubernetes secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from environs import Env, EnvError

from bridge.errors import ConfigError, SettingsError
from bridge.secret import Secret, redact_url_passwords

#: Default retry schedule in seconds (roughly 1 s, 5 s, 30 s, 2 min, 10 min, 1 h).
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1, 5, 30, 120, 600, 3600)
#: Default webhook body limit in bytes (256 KiB).
DEFAULT_MAX_BODY = 262144
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"
DEFAULT_DATABASE_URL = "sqlite:///bridge.db"
DEFAULT_CLIENT_CODE = "OC-TOMA"

_VENDOR_SECRET = re.compile(r"^BRIDGE_VENDOR_(?P<name>[A-Z0-9_]+)_SECRET$")
_CLIENT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")


@dataclass(frozen=True)
class Settings:
    """Everything the bridge is told at start; passed explicitly, never global."""

    opscom_base_url: str | None = None
    opscom_client_code: str = DEFAULT_CLIENT_CODE
    opscom_api_token: Secret | None = None
    amqp_url: Secret = field(default_factory=lambda: Secret(DEFAULT_AMQP_URL))
    database_url: Secret = field(default_factory=lambda: Secret(DEFAULT_DATABASE_URL))
    admin_token: Secret | None = None
    config_path: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    vendor_secrets: Mapping[str, Secret] = field(default_factory=dict)
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    #: Jitter as a fraction of each delay: a retry waits between d and d * (1 + jitter).
    retry_jitter: float = 0.2
    #: Longest `Retry-After` the bridge honours, in seconds.
    retry_after_max: float = 3600
    max_body: int = DEFAULT_MAX_BODY
    #: Number of work-queue partitions; a permit always maps to the same one.
    partitions: int = 8
    #: "classic" or "quorum" queues.
    queue_type: str = "classic"
    #: Permits in flight at once per worker process.
    max_in_flight: int = 32
    #: What to do with a create sent to OPS-COM whose answer never came back.
    on_unknown_outcome: str = "deadletter"
    #: OPS-COM HTTP timeouts in seconds.
    opscom_connect_timeout: float = 3.05
    opscom_read_timeout: float = 15.0
    #: Seconds the web tier waits for RabbitMQ's confirm before answering 503.
    confirm_timeout: float = 2.0
    #: Consecutive transient OPS-COM failures that open the circuit.
    circuit_failures: int = 5
    #: Seconds between probes while the circuit is open.
    circuit_probe_interval: float = 5.0
    #: Days the worker remembers an applied event id (a re-sent event is not re-applied).
    event_retention_days: int = 30
    #: Seconds between a worker's checks of its share of the partitions.
    rebalance_interval: float = 5.0
    #: Days a webhook delivery id is remembered for duplicate detection.
    dedupe_days: int = 7
    log_level: str = "INFO"

    def secrets(self) -> list[Secret]:
        """Every secret this process knows, for redaction."""
        found = [self.opscom_api_token, self.admin_token, self.amqp_url, self.database_url]
        found += list(self.vendor_secrets.values())
        return [s for s in found if s is not None]

    def amqp_url_for_display(self) -> str:
        return redact_url_passwords(self.amqp_url.reveal())


def load_settings(
    require: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the environment (and `BRIDGE_CONFIG`); raise SettingsError naming a bad variable.

    `require` names variables that this command cannot run without.
    """
    environ = os.environ if environ is None else environ
    env = _MappingEnv(environ)
    for name in require:
        if not env.str(name, "").strip():
            raise SettingsError(name, "is required but not set")
    config_path = _read(env.str, "BRIDGE_CONFIG", None)
    config = load_config_file(config_path) if config_path else {}
    values: dict[str, Any] = {
        "opscom_base_url": _base_url(env),
        "opscom_client_code": _client_code(env),
        "opscom_api_token": _secret(env, "OPSCOM_API_TOKEN"),
        "amqp_url": Secret(_url(env, "AMQP_URL", DEFAULT_AMQP_URL, ("amqp", "amqps"))),
        "database_url": Secret(_database_url(env)),
        "admin_token": _secret(env, "BRIDGE_ADMIN_TOKEN"),
        "config_path": config_path,
        "config": config,
        "vendor_secrets": _vendor_secrets(environ),
        "retry_delays": _retry_delays(env, config),
        "max_body": _read(env.int, "BRIDGE_MAX_BODY", DEFAULT_MAX_BODY, minimum=1),
        "partitions": _read(env.int, "BRIDGE_PARTITIONS", 8, minimum=1),
        "queue_type": _choice(env, "BRIDGE_QUEUE_TYPE", "classic", ("classic", "quorum")),
        "max_in_flight": _read(env.int, "BRIDGE_MAX_IN_FLIGHT", 32, minimum=1),
        "on_unknown_outcome": _choice(
            env, "BRIDGE_ON_UNKNOWN_OUTCOME", "deadletter", ("deadletter", "retry")
        ),
        "opscom_connect_timeout": _read(env.float, "OPSCOM_CONNECT_TIMEOUT", 3.05, minimum=0.01),
        "opscom_read_timeout": _read(env.float, "OPSCOM_READ_TIMEOUT", 15.0, minimum=0.01),
        "confirm_timeout": _read(env.float, "BRIDGE_CONFIRM_TIMEOUT", 2.0, minimum=0.01),
        "retry_jitter": _read(env.float, "BRIDGE_RETRY_JITTER", 0.2, minimum=0.0),
        "retry_after_max": _read(env.float, "BRIDGE_RETRY_AFTER_MAX", 3600.0, minimum=0.0),
        "circuit_failures": _read(env.int, "BRIDGE_CIRCUIT_FAILURES", 5, minimum=1),
        "circuit_probe_interval": _read(env.float, "BRIDGE_CIRCUIT_PROBE", 5.0, minimum=0.05),
        "dedupe_days": _read(env.int, "BRIDGE_DEDUPE_DAYS", 7, minimum=1),
        "rebalance_interval": _read(env.float, "BRIDGE_REBALANCE_INTERVAL", 5.0, minimum=0.1),
        "event_retention_days": _read(env.int, "BRIDGE_EVENT_RETENTION_DAYS", 30, minimum=1),
        "log_level": _choice(
            env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True
        ),
    }
    return Settings(**values)


def load_config_file(path: str) -> dict[str, Any]:
    """Parse the BRIDGE_CONFIG YAML file; its detailed checks belong to its readers."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError("BRIDGE_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("BRIDGE_CONFIG", f"{path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("BRIDGE_CONFIG", f"{path} must hold a mapping at the top level")
    return data


class _MappingEnv(Env):
    """environs reading from a given mapping (the real environment by default)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(eager=True)
        self._source = environ

    def _get_value(self, env_key: str, default: Any) -> Any:
        file_path = self._source.get(f"{env_key}_FILE")
        if file_path and env_key not in self._source:
            try:
                with open(file_path, encoding="utf-8") as handle:
                    return handle.read().strip()
            except OSError as exc:
                raise SettingsError(f"{env_key}_FILE", f"cannot read: {exc.strerror}") from None
        return self._source.get(env_key, default)


def _read(getter: Any, name: str, default: Any, minimum: float | None = None) -> Any:
    try:
        value = getter(name, default)
    except EnvError as exc:
        raise SettingsError(name, _env_problem(exc)) from None
    if minimum is not None and value is not None and value < minimum:
        raise SettingsError(name, f"must be at least {minimum}, got {value}")
    return value


def _env_problem(exc: EnvError) -> str:
    text = str(exc)
    return text.split(":", 1)[1].strip() if ":" in text else text


def _secret(env: Env, name: str) -> Secret | None:
    value = _read(env.str, name, None)
    if value is None or not value.strip():
        return None
    return Secret(value.strip())


def _choice(env: Env, name: str, default: str, options: tuple[str, ...], upper=False) -> str:
    value = (_read(env.str, name, default) or default).strip()
    value = value.upper() if upper else value.lower()
    if value not in options:
        raise SettingsError(name, f"must be one of {', '.join(options)}, got {value!r}")
    return value


def _url(env: Env, name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = (_read(env.str, name, default) or default).strip()
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        shown = redact_url_passwords(value)
        raise SettingsError(name, f"must be a {' or '.join(schemes)}:// URL, got {shown!r}")
    return value


def _base_url(env: Env) -> str | None:
    value = _read(env.str, "OPSCOM_BASE_URL", None)
    if value is None or not value.strip():
        return None
    url = _url(env, "OPSCOM_BASE_URL", value, ("http", "https")).rstrip("/")
    if "/api/" in url:
        raise SettingsError(
            "OPSCOM_BASE_URL", "give only scheme and host (and port); the bridge adds /api/..."
        )
    return url


def _client_code(env: Env) -> str:
    value = (_read(env.str, "OPSCOM_CLIENT_CODE", DEFAULT_CLIENT_CODE) or "").strip()
    if not _CLIENT_CODE.match(value):
        raise SettingsError("OPSCOM_CLIENT_CODE", "must be 1-50 letters, digits, '-' or '_'")
    return value


def _database_url(env: Env) -> str:
    value = (_read(env.str, "DATABASE_URL", DEFAULT_DATABASE_URL) or "").strip()
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        shown = redact_url_passwords(value)
        raise SettingsError(
            "DATABASE_URL", f"must be sqlite:///path or postgresql+psycopg://..., got {shown!r}"
        )
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _vendor_secrets(environ: Mapping[str, str]) -> dict[str, Secret]:
    found = {}
    for key, value in environ.items():
        match = _VENDOR_SECRET.match(key)
        if match and value.strip():
            found[match["name"].lower()] = Secret(value.strip())
    return found


def _retry_delays(env: Env, config: Mapping[str, Any]) -> tuple[float, ...]:
    raw = env.str("BRIDGE_RETRY_DELAYS", "")
    name = "BRIDGE_RETRY_DELAYS"
    if not raw.strip():
        retry = config.get("retry") or {}
        raw_list = retry.get("delays") if isinstance(retry, dict) else None
        if raw_list is None:
            return DEFAULT_RETRY_DELAYS
        name, raw = "BRIDGE_CONFIG retry.delays", ",".join(str(v) for v in raw_list)
    try:
        delays = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(name, f"must be seconds separated by commas, got {raw!r}") from None
    if not delays or any(d <= 0 for d in delays):
        raise SettingsError(name, "must list at least one positive number of seconds")
    return delays
