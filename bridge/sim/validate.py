"""The simulator's reading of OPS-COM request validation (opscom-api.md, independently).

Each operation checks its documented fields in the order its wiki page lists them and
answers the first failure, the way a PHP controller returns on the first bad field.
Per field: absent (missing or null or "") -> the field's "missing" code if required;
not a string -> 9033; longer than its limit -> 9030; wrong format -> the field's
"invalid" code (9007 start, 9005 end, else 9033). Undocumented fields are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

#: code -> the published message, word for word.
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

#: canonical name -> every accepted spelling ("Possible Names"), first one wins.
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

_ID = re.compile(r"^[A-Za-z0-9-]+$")
_AMOUNT = re.compile(r"^[0-9]{1,6}\.[0-9]{2}$")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
CURRENCIES = frozenset({"CAD", "USD"})


def _is_amount(value: str) -> bool:
    """At least 3 digits, 2 of them cents, between 0.01 and 999999.99."""
    return bool(_AMOUNT.match(value)) and Decimal("0.01") <= Decimal(value) <= Decimal(
        "999999.99"
    )


def _is_time(value: str) -> bool:
    """PHP `Y-m-d\\TH:i:s` exactly (no offset, no fraction) and a date that exists."""
    if not _TIME.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def _is_id(value: str) -> bool:
    """Letters, digits and dashes only (tokens and reference ids)."""
    return bool(_ID.match(value))


def _any_text(value: str) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """One documented field: its limit, format and the codes OPS-COM gives for it."""

    name: str
    max_len: int | None
    valid: Callable[[str], bool]
    missing_code: int = 9031
    invalid_code: int = 9033


RULES: dict[str, Rule] = {
    "apiToken": Rule("apiToken", 50, _is_id, missing_code=9001),
    "referenceID": Rule("referenceID", 50, _is_id, missing_code=9008),
    "amount": Rule("amount", 9, _is_amount),
    "currency": Rule("currency", 10, CURRENCIES.__contains__),
    "startTime": Rule("startTime", 20, _is_time, invalid_code=9007),
    "endTime": Rule("endTime", 20, _is_time, missing_code=9004, invalid_code=9005),
    "plate": Rule("plate", 25, _any_text, missing_code=9006),
    "permitNo": Rule("permitNo", 50, _any_text),
    "zone": Rule("zone", 200, _any_text),
    "zones": Rule("zones", None, _any_text),
}

#: op -> (field, required) in the order the op's wiki page lists them (token first).
FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "push": (
        ("amount", False),
        ("currency", False),
        ("startTime", True),
        ("endTime", True),
        ("plate", True),
        ("permitNo", False),
        ("zone", False),
    ),
    "update": (
        ("referenceID", True),
        ("endTime", False),
        ("plate", False),
        ("amount", False),
        ("currency", False),
    ),
    "delete": (("referenceID", True),),
    "stats": (("zones", False),),
}
OPS = tuple(FIELDS)


class Rejected(Exception):
    """A request OPS-COM answers with an ErrorCode."""

    def __init__(self, code: int) -> None:
        super().__init__(f"{code} {ERROR_MESSAGES[code]}")
        self.code = code

    def answer(self) -> dict[str, Any]:
        return {"ErrorCode": self.code, "ErrorMessage": ERROR_MESSAGES[self.code]}


def pick(body: Mapping[str, Any], field: str) -> Any:
    """The value of `field` under its first present spelling (None when absent)."""
    for name in ALIASES[field]:
        value = body.get(name)
        if not _absent(value):
            return value
    return None


def _absent(value: Any) -> bool:
    return value is None or value == ""


def field_error(field: str, value: Any, required: bool) -> int | None:
    """The ErrorCode for one field's value, or None when it is acceptable."""
    rule = RULES[field]
    if _absent(value):
        return rule.missing_code if required else None
    if not isinstance(value, str):
        return 9033
    if rule.max_len is not None and len(value) > rule.max_len:
        return 9030
    return None if rule.valid(value) else rule.invalid_code


def check_token(body: Mapping[str, Any], token: str) -> None:
    """9001 missing, 9030/9033 malformed, 9002 any other token than the one accepted."""
    code = field_error("apiToken", body.get("apiToken"), required=True)
    if code is None and body["apiToken"] != token:
        code = 9002
    if code is not None:
        raise Rejected(code)


def check_client(client: str, accepted: str) -> None:
    """9000 when the path has no client code, 9002 when it names another client."""
    if not client:
        raise Rejected(9000)
    if client != accepted:
        raise Rejected(9002)


def canonical(op: str, body: Mapping[str, Any]) -> dict[str, str]:
    """Validate `op`'s documented fields; return them under canonical names.

    Raises Rejected with the first failing field's code.
    """
    found: dict[str, str] = {}
    for field, required in FIELDS[op]:
        value = pick(body, field)
        code = field_error(field, value, required)
        if code is not None:
            raise Rejected(code)
        if value is not None:
            found[field] = value
    return found
