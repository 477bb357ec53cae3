"""Zone maps: a vendor's zone id or name -> the OPS-COM zone name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import ConfigError

#: Unknown-zone policies: pass the vendor's value through (counted), or answer 422.
POLICIES = ("pass", "reject")


@dataclass(frozen=True)
class ZoneMap:
    """A vendor's zone map and what to do with a zone it does not list."""

    names: Mapping[str, str] = field(default_factory=dict)
    unknown: str = "pass"

    def lookup(self, value: Any) -> str | None:
        """The OPS-COM zone name for a vendor zone id or name, or None."""
        if value is None:
            return None
        return self.names.get(str(value).strip())


def zone_map_from_config(vendor: str, raw: Any) -> ZoneMap:
    """Build a ZoneMap from `vendors.<vendor>.zones` ({map: {...}, unknown: pass|reject})."""
    where = f"BRIDGE_CONFIG vendors.{vendor}.zones"
    if raw is None:
        return ZoneMap()
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "must be a mapping with 'map' and optional 'unknown'")
    names = raw.get("map") or {}
    if not isinstance(names, Mapping):
        raise ConfigError(f"{where}.map", "must map vendor zone ids or names to OPS-COM zones")
    unknown = str(raw.get("unknown", "pass"))
    if unknown not in POLICIES:
        raise ConfigError(f"{where}.unknown", f"must be one of {', '.join(POLICIES)}")
    extra = set(raw) - {"map", "unknown"}
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}", "is not a zone map setting")
    return ZoneMap({str(k).strip(): str(v) for k, v in names.items()}, unknown)
