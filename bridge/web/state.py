"""What the web app holds for its request handlers (in app.extensions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from flask import current_app
from sqlalchemy.engine import Engine

from bridge.settings import Settings
from bridge.web.dedupe import Dedupe
from bridge.web.metrics import Metrics
from bridge.web.vendors import Vendor

KEY = "opscom"


class CommandPublisher(Protocol):
    """What the web tier needs of bridge.publisher.Publisher."""

    def publish_commands(self, commands: list[dict[str, Any]], *, original: Any = None,
                         vendor: str | None = None, correlation_id: str | None = None,
                         headers: dict[str, Any] | None = None) -> None: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


@dataclass
class WebState:
    settings: Settings
    vendors: dict[str, Vendor]
    publisher: CommandPublisher
    engine: Engine
    dedupe: Dedupe
    metrics: Metrics


def state() -> WebState:
    """The current app's WebState."""
    found: WebState = current_app.extensions[KEY]
    return found
