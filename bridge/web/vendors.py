"""The vendor registry: built-in adapters and BRIDGE_CONFIG vendors, built once at start.

`vendors.<name>` in BRIDGE_CONFIG may configure a built-in vendor (auth, zones,
currency, duplicate_status) or, with `fields`, define a new one. A broken entry
raises ConfigError naming the vendor and the setting, so the process does not start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import ConfigError
from bridge.settings import Settings
from bridge.web.auth import Deny, Verifier, build_verifier
from schemas.vendors.base import Adapter, Context
from schemas.vendors.compiler import compile_vendor
from schemas.vendors.easypark import EasyPark
from schemas.vendors.passport import Passport
from schemas.vendors.paybyx import PayByX
from schemas.vendors.standard import Standard
from schemas.vendors.zones import ZoneMap, zone_map_from_config

log = logging.getLogger(__name__)

BUILT_IN: dict[str, Adapter] = {a.name: a for a in (Standard(), EasyPark(), Passport(), PayByX())}
#: Default authentication of each built-in vendor (DESIGN.md).
DEFAULT_AUTH = {"standard": {"scheme": "standard_webhooks"},
                "easypark": {"scheme": "basic"},
                "passport": {"scheme": "standard_webhooks"},
                "paybyx": {"scheme": "standard_webhooks"}}
#: EasyPark reads 409 as "already processed"; others expect a 2xx.
DEFAULT_DUPLICATE_STATUS = {"easypark": 409}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


@dataclass(frozen=True)
class Vendor:
    """Everything the webhook route needs to know about one vendor."""

    name: str
    adapter: Adapter
    verifier: Verifier
    duplicate_status: int = 200
    zones: ZoneMap = field(default_factory=ZoneMap)
    currency: str | None = None

    def context(self, webhook_id: str | None) -> Context:
        return Context(source=self.name, webhook_id=webhook_id, zones=self.zones,
                       currency=self.currency)


def secret_key(name: str) -> str:
    """BRIDGE_VENDOR_<NAME>_SECRET is stored under this key in settings.vendor_secrets."""
    return name.replace("-", "_").lower()


def build_registry(settings: Settings, warn: bool = True) -> dict[str, Vendor]:
    """All vendors by name; ConfigError on a broken definition.

    With `warn`, log each vendor that has no credential (it will answer 401).
    """
    configured = settings.config.get("vendors") or {}
    if not isinstance(configured, Mapping):
        raise ConfigError("BRIDGE_CONFIG vendors", "must map vendor names to settings")
    names = [*BUILT_IN, *(str(n) for n in configured if n not in BUILT_IN)]
    vendors = {name: _vendor(name, configured.get(name) or {}, settings) for name in names}
    for vendor in vendors.values() if warn else ():
        if isinstance(vendor.verifier, Deny):
            log.warning("vendor %s has no credential (BRIDGE_VENDOR_%s_SECRET): its webhooks "
                        "are answered 401", vendor.name, secret_key(vendor.name).upper())
    return vendors


def _vendor(name: str, raw: Any, settings: Settings) -> Vendor:
    where = f"BRIDGE_CONFIG vendors.{name}"
    if not _NAME.match(name):
        raise ConfigError(where, "vendor names are lower-case letters, digits, '-' and '_'")
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "must be a mapping of settings")
    adapter = _adapter(name, raw)
    auth = raw.get("auth") or DEFAULT_AUTH.get(name)
    if not isinstance(auth, Mapping):
        raise ConfigError(f"{where}.auth", "is required: {scheme: standard_webhooks|hmac|"
                          "basic|api_key, ...}")
    verifier = build_verifier(name, auth, settings.vendor_secrets.get(secret_key(name)))
    status = raw.get("duplicate_status", DEFAULT_DUPLICATE_STATUS.get(name, 200))
    if status not in (200, 208, 409):
        raise ConfigError(f"{where}.duplicate_status", "must be 200, 208 or 409")
    currency = raw.get("currency")
    zones = zone_map_from_config(name, raw.get("zones"))
    return Vendor(name, adapter, verifier, int(status), zones,
                  str(currency).upper() if currency else None)


def _adapter(name: str, raw: Mapping[str, Any]) -> Adapter:
    if name in BUILT_IN:
        allowed = {"auth", "zones", "currency", "duplicate_status", "description"}
        extra = set(raw) - allowed
        if extra:
            raise ConfigError(f"BRIDGE_CONFIG vendors.{name}.{sorted(extra)[0]}",
                              f"is not a setting of the built-in vendor {name}")
        return BUILT_IN[name]
    return compile_vendor(name, raw)
