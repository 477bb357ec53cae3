"""Value conversions a config-defined vendor may ask for (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NAMES = ("string", "cents", "dollars", "upper", "lower", "epoch")


def convert(value: Any, name: str | None, timezone: str | None = None) -> Any:
    """Apply conversion `name`, then (for times) the vendor's time zone."""
    if name is not None:
        value = _CONVERTERS[name](value)
    if timezone is not None:
        value = localize(value, timezone)
    return value


def to_string(value: Any) -> str:
    """2791368361 -> "2791368361" (no ".0" for whole floats)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def cents_to_dollars(value: Any) -> str:
    """1450 (cents) -> "14.50"."""
    return f"{_decimal(value) / 100:.2f}"


def dollars(value: Any) -> str:
    """14.5 -> "14.50"."""
    return f"{_decimal(value):.2f}"


def epoch_to_iso(value: Any) -> str:
    """Unix seconds -> ISO 8601 UTC."""
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValueError(f"Not a valid Unix timestamp: {value!r}.") from None


def localize(value: Any, timezone: str) -> str:
    """A time without offset is read in the vendor's time zone; the result carries it."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"Not a valid datetime: {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat()


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"Not a valid amount: {value!r}.") from None


_CONVERTERS = {"string": to_string, "cents": cents_to_dollars, "dollars": dollars,
               "upper": lambda v: str(v).upper(), "lower": lambda v: str(v).lower(),
               "epoch": epoch_to_iso}
