"""The OPS-COM Permits API as marshmallow schemas: names, limits, error codes.

Everything here follows docs `opscom-api.md` to the letter; it is the one place
each limit is defined. The simulator validates requests with these schemas, the
canonical command reuses `VALIDATORS`, and the client builds bodies with
`build_request`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load
from marshmallow.validate import Equal, Length, OneOf, Regexp

from schemas.fields import AliasedSchema, Text, canonical_name, drop_none, error_kind, not_empty

#: Canonical name -> every spelling OPS-COM accepts ("Possible Names").
ALIASES: dict[str, tuple[str, ...]] = {
    "apiToken": ("apiToken",),
    "referenceID": ("referenceid", "referenceID", "reference_id"),
    "amount": ("amount", "Amount"),
    "currency": ("currency", "CurrencyID"),
    "startTime": ("startTime", "StartDateUtc"),
    "endTime": ("endTime", "EndDateUtc"),
    "plate": ("plate", "LicencePlate"),
    "permitNo": ("permitNo", "TicketNumber"),
    "zone": ("zone", "ParkingZoneName"),
    "zones": ("zones",),
}

#: OPS-COM's documented error codes and their messages, word for word.
ERROR_MESSAGES: dict[int, str] = {
    9000: "Client Code is missing from the request.",
    9001: "API Token is missing from the request.",
    9002: "The supplied API token does not have permission to perform that request.",
    9003: "Could not parse the request.",
    9004: "End Time is a required field.",
    9005: "The end time value is invalid.",
    9006: "Plate is a required field.",
    9007: "The start time value is invalid.",
    9008: (
        "Reference ID is required. On a new permit push, a reference id is returned. "
        "This is required for updates and deletes."
    ),
    9009: "Record not found.",
    9022: "A record already exists with the supplied details.",
    9030: "The field's maximum number of characters was exceeded.",
    9031: "The field is required.",
    9032: "The field has a minimum number of characters.",
    9033: "The field's value is invalid.",
}

#: The operations, in the path segment's spelling, and the command action for each.
OPS = ("push", "update", "delete", "stats")
OP_FOR_ACTION = {"create": "push", "update": "update", "delete": "delete"}

#: Limits, in characters unless said otherwise.
ID_MAX = 50
PLATE_MAX = 25
ZONE_MAX = 200
PERMIT_NO_MAX = 50
CURRENCY_MAX = 10
CURRENCIES = ("CAD", "USD")
AMOUNT_MIN = Decimal("0.01")
AMOUNT_MAX = Decimal("999999.99")
AMOUNT_MAX_CHARS = 9
#: PHP `Y-m-d\TH:i:s`, the only time format OPS-COM takes (UTC, no offset).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

_ID_CHARS = re.compile(r"^[A-Za-z0-9-]*$")
_AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def validate_amount(value: str) -> None:
    """At least 3 digits, two of them cents, 0.01 to 999999.99 (length checked apart)."""
    if not _AMOUNT.match(value):
        raise ValidationError("Not a valid amount: use two cents digits, e.g. 14.50.")
    if not AMOUNT_MIN <= Decimal(value) <= AMOUNT_MAX:
        raise ValidationError(f"Must be between {AMOUNT_MIN} and {AMOUNT_MAX}.")


def validate_time(value: str) -> None:
    """Exactly `Y-m-d\\TH:i:s` and a real calendar date and time."""
    try:
        if not _TIME.match(value):
            raise ValueError(value)
        datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise ValidationError(
            "Not a valid time: use Y-m-d\\TH:i:s in UTC, e.g. 2000-05-30T14:38:22."
        ) from None


_ID_RULES: list[Callable[[Any], Any]] = [
    not_empty,
    Length(max=ID_MAX),
    Regexp(_ID_CHARS, error="Only letters, digits and dashes are allowed."),
]

#: Canonical name -> validators of the value OPS-COM receives (one definition each).
VALIDATORS: dict[str, list[Callable[[Any], Any]]] = {
    "apiToken": _ID_RULES,
    "referenceID": _ID_RULES,
    # Length first, like every other field: 1000000.00 is too long *and* too much.
    "amount": [Length(max=AMOUNT_MAX_CHARS), validate_amount],
    "currency": [Length(max=CURRENCY_MAX), OneOf(CURRENCIES)],
    "startTime": [not_empty, validate_time],
    "endTime": [not_empty, validate_time],
    "plate": [not_empty, Length(max=PLATE_MAX)],
    "permitNo": [Length(max=PERMIT_NO_MAX)],
    "zone": [Length(max=ZONE_MAX)],
    "zones": [],
}


def opscom_field(name: str, required: bool = False) -> fields.String:
    """A string field with OPS-COM's limits; optional ones take null as absent."""
    return fields.String(required=required, allow_none=not required, validate=VALIDATORS[name])


class OpsComRequest(AliasedSchema):
    """Common to every request: the token, any spelling, unknown keys ignored."""

    aliases = ALIASES

    class Meta:
        unknown = EXCLUDE  # OPS-COM ignores keys it does not know

    apiToken = opscom_field("apiToken", required=True)

    @post_load
    def _drop_none(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return drop_none(data)


class PushRequest(OpsComRequest):
    """`/permits/push`: create a permit."""

    plate = opscom_field("plate", required=True)
    startTime = opscom_field("startTime", required=True)
    endTime = opscom_field("endTime", required=True)
    amount = opscom_field("amount")
    currency = opscom_field("currency")
    permitNo = opscom_field("permitNo")
    zone = opscom_field("zone")


class UpdateRequest(OpsComRequest):
    """`/permits/update`: change plate, amount, currency or end of a pushed permit."""

    referenceID = opscom_field("referenceID", required=True)
    plate = opscom_field("plate")
    amount = opscom_field("amount")
    currency = opscom_field("currency")
    endTime = opscom_field("endTime")


class DeleteRequest(OpsComRequest):
    """`/permits/delete`: remove a pushed permit."""

    referenceID = opscom_field("referenceID", required=True)


class StatsRequest(OpsComRequest):
    """`/permits/stats`: counts per zone and type, optionally for some zones."""

    zones = opscom_field("zones")


REQUEST_SCHEMAS: dict[str, type[OpsComRequest]] = {
    "push": PushRequest,
    "update": UpdateRequest,
    "delete": DeleteRequest,
    "stats": StatsRequest,
}


class SuccessResponse(Schema):
    """push / update / delete success; update and delete echo the reference."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(required=True, validate=Equal("success"))
    reference_id = Text(required=True)
    InternalReferenceID = Text(load_default=None)


class StatsRow(Schema):
    """One zone and permit type with its count (OPS-COM sends counts as strings)."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True)
    zone = fields.String(required=True, allow_none=True)
    total = Text(required=True)


class StatsResponse(Schema):
    """stats success."""

    class Meta:
        unknown = EXCLUDE

    data = fields.List(fields.Nested(StatsRow), required=True)


class ErrorResponse(Schema):
    """Any failure: `{"ErrorCode": 9001, "ErrorMessage": "..."}`."""

    class Meta:
        unknown = EXCLUDE

    ErrorCode = fields.Integer(required=True)
    ErrorMessage = fields.String(load_default="")


#: When a body has several faults, the code OPS-COM is taken to report first:
#: unparseable, then credentials, then missing fields, then bad values.
_CODE_ORDER = (9003, 9001, 9008, 9006, 9004, 9031, 9007, 9005, 9030, 9032, 9033)
_MISSING_CODES = {"apiToken": 9001, "referenceID": 9008, "plate": 9006, "endTime": 9004}
_INVALID_CODES = {"startTime": 9007, "endTime": 9005}


def error_code_for(op: str, errors: Mapping[str, Any] | list[Any]) -> int:
    """The documented ErrorCode that best fits a request schema's errors.

    `errors` is `ValidationError.messages` from the schema for `op`, keyed by any
    spelling. Codes only a server can know (9002 token refused, 9009 unknown
    reference, 9022 duplicate) never come from here.
    """
    if op not in REQUEST_SCHEMAS:
        raise ValueError(f"unknown OPS-COM operation {op!r}")
    if not isinstance(errors, Mapping):
        return 9003
    codes = {
        _field_code(canonical_name(key, ALIASES), message)
        for key, messages in errors.items()
        for message in _flatten(messages)
    }
    return min(codes, key=_CODE_ORDER.index, default=9003)


def _field_code(field: str, message: str) -> int:
    if field == "_schema":
        return 9003
    kind = error_kind(message)
    if kind == "missing":
        return _MISSING_CODES.get(field, 9031)
    if kind == "too_long":
        return 9030
    if kind == "too_short":
        return 9032
    return _INVALID_CODES.get(field, 9033)


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _flatten(value)]
    return [m for value in messages for m in _flatten(value)]


#: The fields each operation documents, besides apiToken, in canonical spelling.
OP_FIELDS: dict[str, tuple[str, ...]] = {
    "push": ("plate", "zone", "permitNo", "amount", "currency", "startTime", "endTime"),
    "update": ("referenceID", "plate", "amount", "currency", "endTime"),
    "delete": ("referenceID",),
}
#: Command keys that address or identify the command and never go to OPS-COM as such.
ENVELOPE = ("action", "source", "source_id", "event_id")


def build_request(
    op: str, command: Mapping[str, Any], token: str, *, reference_id: str | None = None
) -> dict[str, Any]:
    """The exact body for `op` from a normalized command: documented fields only.

    `reference_id` (the one the bridge stored for this permit) overrides the
    command's own `referenceID`; update and delete need one or the other.
    """
    if op not in OP_FIELDS:
        raise ValueError(f"build_request cannot build {op!r}")
    values = {**command, "referenceID": reference_id or command.get("referenceID")}
    if "referenceID" in OP_FIELDS[op] and not values["referenceID"]:
        raise ValueError(f"{op} needs a referenceID")
    body = {"apiToken": token}
    body.update({name: values[name] for name in OP_FIELDS[op] if values.get(name) is not None})
    return body


def dropped_fields(op: str, command: Mapping[str, Any]) -> list[str]:
    """Command fields `op` cannot carry (an update cannot move a start or a zone)."""
    if op not in OP_FIELDS:
        raise ValueError(f"unknown OPS-COM operation {op!r}")
    return [
        name
        for name, value in command.items()
        if value is not None and name not in ENVELOPE and name not in OP_FIELDS[op]
    ]
