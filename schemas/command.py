"""The canonical permit command: what senders post and what the work queue carries.

Senders may use any OPS-COM spelling, times with offsets, amounts as numbers;
`PermitCommand` turns that into the normalized command of ARCHITECTURE.md and
checks it against OPS-COM's own limits (`schemas.opscom.VALIDATORS`), so a bad
permit is refused with a 422 at the door instead of dead-lettered later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import RAISE, ValidationError, fields, post_load, validates_schema
from marshmallow.validate import Length, OneOf

from schemas.fields import MISSING, AliasedSchema, Text, drop_none, not_empty
from schemas.opscom import ALIASES, TIME_FORMAT, VALIDATORS

ACTIONS = ("create", "update", "delete")
SOURCE_MAX = 100
SOURCE_ID_MAX = 200
EVENT_ID_MAX = 200
MISSING_KEY = "Missing data for required field unless referenceID is given."

#: Key order of the normalized command (also every key it may have).
FIELD_ORDER = (
    "action", "source", "source_id", "event_id", "referenceID",
    "plate", "zone", "permitNo", "amount", "currency", "startTime", "endTime",
)  # fmt: skip

_CENT = Decimal("0.01")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_ISO_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class UtcTime(fields.Field):
    """An ISO time with offset, `Z` or none (= UTC) -> UTC `Y-m-d\\TH:i:s`.

    Fractional seconds are cut, not rounded: OPS-COM has whole seconds and a
    permit must not start a second later than the sender said.
    """

    default_error_messages = {
        "invalid": "Not a valid time: use e.g. 2018-07-02T09:00:00, with an offset or Z if not UTC."
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        match = _ISO_TIME.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        day, clock, offset = match.groups()
        try:
            local = datetime.strptime(f"{day}T{clock}", TIME_FORMAT)
            return local.replace(tzinfo=_zone(offset)).astimezone(UTC).strftime(TIME_FORMAT)
        except (ValueError, OverflowError):
            raise self.make_error("invalid") from None


def _zone(offset: str | None) -> timezone:
    """`Z`, none, `+05:30`, `-0400` as a timezone (ValueError beyond ±24 h)."""
    if offset is None or offset.upper() == "Z":
        return UTC
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if offset[0] == "-" else delta)


class Money(fields.Field):
    """A number or numeric string -> two-decimal string, e.g. 14.5 -> "14.50".

    More than two decimals is refused rather than rounded: silently changing an
    amount of money is worse than telling the sender.
    """

    default_error_messages = {
        "invalid": "Not a valid amount.",
        "precision": "More than two decimal places: give the amount in whole cents.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.make_error("invalid")
        text = value.strip() if isinstance(value, str) else str(value)
        if not _NUMBER.match(text):
            raise self.make_error("invalid")
        try:
            amount = Decimal(text)
            cents = amount.quantize(_CENT)
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if cents != amount:
            raise self.make_error("precision")
        return str(cents)


class Upper(Text):
    """Trimmed and upper-cased: plates and currency codes are compared that way."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(value, attr, data, **kwargs).strip().upper()


def _optional(field: type[fields.Field], name: str) -> fields.Field:
    """An optional OPS-COM field (null = absent) with OPS-COM's own limits."""
    return field(allow_none=True, validate=VALIDATORS[name])


class PermitCommand(AliasedSchema):
    """The canonical permit command (DESIGN.md), loaded into its normalized form.

    Errors are flat `{field: [messages]}`, keyed by the name the sender used.
    """

    aliases = ALIASES

    class Meta:
        unknown = RAISE  # a misspelt field would otherwise vanish silently

    action = fields.String(required=True, validate=OneOf(ACTIONS))
    source = fields.String(required=True, validate=[not_empty, Length(max=SOURCE_MAX)])
    source_id = Text(allow_none=True, validate=[not_empty, Length(max=SOURCE_ID_MAX)])
    event_id = Text(allow_none=True, validate=[not_empty, Length(max=EVENT_ID_MAX)])
    referenceID = _optional(fields.String, "referenceID")
    plate = _optional(Upper, "plate")
    zone = _optional(fields.String, "zone")
    permitNo = _optional(Text, "permitNo")
    amount = _optional(Money, "amount")
    currency = _optional(Upper, "currency")
    startTime = _optional(UtcTime, "startTime")
    endTime = _optional(UtcTime, "endTime")

    def presence_errors(self, data: dict[str, Any]) -> dict[str, list[str]]:
        """create needs a permit key, plate and times; update/delete need some key."""
        action = data.get("action")
        if action == "create":
            needed = ("source_id", "plate", "startTime", "endTime")
            return {name: [MISSING] for name in needed if data.get(name) is None}
        keyless = data.get("source_id") is None and data.get("referenceID") is None
        if action in ("update", "delete") and keyless:
            return {"source_id": [MISSING_KEY]}
        return {}

    @validates_schema(skip_on_field_errors=False)  # report it beside other faults
    def _end_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("startTime"), data.get("endTime")
        if start and end and end < start:  # same fixed format: text order is time order
            raise ValidationError("Must not be before startTime.", "endTime")

    @post_load
    def _normalize(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        present = drop_none(data)
        return {name: present[name] for name in FIELD_ORDER if name in present}


def load_command(raw: Any, default_action: str | None = None) -> dict[str, Any]:
    """Normalize one raw command; `default_action` (e.g. from an AMQP routing key)
    applies when the body names none. Raises marshmallow.ValidationError.
    """
    if isinstance(raw, Mapping) and default_action and raw.get("action") is None:
        raw = {**raw, "action": default_action}
    result: dict[str, Any] = PermitCommand().load(raw)
    return result
