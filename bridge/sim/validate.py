"""The simulator's reading of OPS-COM request validation (opscom-api.md, independently).

Where opscom-api.md is silent this follows the reading recorded in tests/opscom_cases.py:
- the token is checked first (9001 missing, 9030/9033 malformed, 9002 not ours): a
  server does not validate fields for a caller it has not authenticated;
- then every documented field of the op; when several fail, the code earliest in
  `PRIORITY` is answered (missing fields before bad values);
- null is absent; "" is absent for fields with a "missing" code (token, reference id,
  plate, start, end) and an ordinary (usually invalid) value for the others;
- a value that is not a string is the field's invalid value (9007/9005 for times);
- one field under two spellings with different values is 9033;
- fields an operation does not document are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas import opscom

# The published facts (error messages, field spellings) have one definition, shared
# with the bridge; the validation rules below are the simulator's own reading of the
# API, which tests/integration/test_opscom_agreement.py compares with schemas/.
ERROR_MESSAGES = opscom.ERROR_MESSAGES
ALIASES = opscom.ALIASES

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
    #: Whether "" means "not given" (answered with missing_code) for this field.
    blank_is_missing: bool = False


RULES: dict[str, Rule] = {
    "apiToken": Rule("apiToken", 50, _is_id, missing_code=9001, blank_is_missing=True),
    "referenceID": Rule("referenceID", 50, _is_id, missing_code=9008, blank_is_missing=True),
    "amount": Rule("amount", 9, _is_amount),
    "currency": Rule("currency", 10, CURRENCIES.__contains__),
    "startTime": Rule("startTime", 20, _is_time, invalid_code=9007, blank_is_missing=True),
    "endTime": Rule(
        "endTime", 20, _is_time, missing_code=9004, invalid_code=9005, blank_is_missing=True
    ),
    "plate": Rule("plate", 25, _any_text, missing_code=9006, blank_is_missing=True),
    "permitNo": Rule("permitNo", 50, _any_text),
    "zone": Rule("zone", 200, _any_text),
    "zones": Rule("zones", None, _any_text),
}

#: op -> (field, required), as each op's wiki page lists them (apiToken apart).
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
#: Of several failures the first of these is answered: missing before invalid.
PRIORITY = (9003, 9001, 9008, 9006, 9004, 9031, 9007, 9005, 9030, 9032, 9033)


class Rejected(Exception):
    """A request OPS-COM answers with an ErrorCode."""

    def __init__(self, code: int) -> None:
        super().__init__(f"{code} {ERROR_MESSAGES[code]}")
        self.code = code

    def answer(self) -> dict[str, Any]:
        return {"ErrorCode": self.code, "ErrorMessage": ERROR_MESSAGES[self.code]}


def first(codes: list[int]) -> int:
    """The code OPS-COM reports when a request has several faults."""
    return min(codes, key=PRIORITY.index)


def value_codes(rule: Rule, value: Any) -> list[int]:
    """Every fault of one given (non-null) value: too long and/or invalid."""
    if value == "" and rule.blank_is_missing:
        return [rule.missing_code]
    if not isinstance(value, str):
        return [rule.invalid_code]
    codes = []
    if rule.max_len is not None and len(value) > rule.max_len:
        codes.append(9030)
    if not rule.valid(value):
        codes.append(rule.invalid_code)
    return codes


def given(body: Mapping[str, Any], field: str) -> list[Any]:
    """The values of `field` under all its spellings; "" only when nothing else is given."""
    values = [body[name] for name in ALIASES[field] if body.get(name) is not None]
    filled = [v for v in values if v != ""]
    return filled or values[:1]


def field_codes(body: Mapping[str, Any], field: str, required: bool) -> tuple[Any, list[int]]:
    """(value, faults) of one documented field of the request."""
    rule = RULES[field]
    values = given(body, field)
    if not values:
        return None, [rule.missing_code] if required else []
    if len({repr(v) for v in values}) > 1:
        return None, [9033]  # two spellings disagree: which one would OPS-COM keep?
    return values[0], value_codes(rule, values[0])


def check_token(body: Mapping[str, Any], token: str) -> None:
    """9001 missing, 9030/9033 malformed, 9002 any other token than the one accepted."""
    value, codes = field_codes(body, "apiToken", required=True)
    if codes:
        raise Rejected(first(codes))
    if value != token:
        raise Rejected(9002)


def check_client(client: str, accepted: str) -> None:
    """9000 when the path has no client code, 9002 when it names another client."""
    if not client:
        raise Rejected(9000)
    if client != accepted:
        raise Rejected(9002)


def canonical(op: str, body: Mapping[str, Any]) -> dict[str, str]:
    """Validate `op`'s documented fields; return them under canonical names.

    Raises Rejected with the code of the highest-priority fault.
    """
    found: dict[str, str] = {}
    faults: list[int] = []
    for field, required in FIELDS[op]:
        value, codes = field_codes(body, field, required)
        faults += codes
        if value is not None and not codes:
            found[field] = value
    if faults:
        raise Rejected(first(faults))
    return found
