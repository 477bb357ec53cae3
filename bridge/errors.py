"""The bridge's errors, split along what the caller should do: retry or give up."""

from __future__ import annotations


class BridgeError(Exception):
    """Base class for everything the bridge raises on purpose."""


class SettingsError(BridgeError):
    """A setting is missing or malformed; the process must not start."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


class ConfigError(SettingsError):
    """The BRIDGE_CONFIG file (vendors, zone maps, retry policy) is invalid."""


class BrokerUnavailable(BridgeError):
    """RabbitMQ did not confirm in time; the caller may try again later."""


class Transient(BridgeError):
    """A failure that may succeed later: retry with backoff."""


class Permanent(BridgeError):
    """A failure that cannot succeed as is: dead-letter at once."""
