"""The shared table of OPS-COM request cases: every spelling, every limit boundary.

Run twice: against the request schemas (tests/unit/test_opscom_schemas.py) and
against the simulator over HTTP. `error_code` None means OPS-COM accepts the body.
A referenceID of "{ref}" stands for a reference from a prior push; the HTTP test
substitutes a real one (`with_ref`). Codes in `SERVER_ONLY_CODES` need server
state (the one accepted token, the issued references): a schema alone accepts
those bodies.

Where opscom-api.md is silent the table records the bridge's reading:
- null or "" for a field counts as absent (PHP `empty()`), so an empty apiToken is 9001;
- several faults: the first of 9003, 9001, 9008, 9006, 9004, 9031, 9007, 9005,
  9030, 9032, 9033 is reported (credentials, then missing fields, then values);
- one field under two spellings with different values is 9033;
- fields an operation does not document are ignored, like unknown ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    id: str  # pytest id
    op: str  # "push" | "update" | "delete" | "stats"
    body: dict  # the JSON body sent (apiToken included where the case wants it; use TOKEN constant)
    error_code: int | None  # None = OPS-COM accepts it; else the documented ErrorCode


TOKEN = "test-token-123"
REF = "{ref}"
#: A well-formed reference that no push ever returned.
UNKNOWN_REF = "00000000-0000-4000-8000-000000000000"
#: 9002 wrong token, 9009 unknown reference: only a server knows.
SERVER_ONLY_CODES = frozenset({9002, 9009})

START = "2018-07-02T09:00:00"
END = "2018-07-02T09:30:00"

_BASE: dict[str, dict[str, Any]] = {
    "push": {"apiToken": TOKEN, "plate": "PL8RDR", "startTime": START, "endTime": END},
    "update": {"apiToken": TOKEN, "referenceID": REF},
    "delete": {"apiToken": TOKEN, "referenceID": REF},
    "stats": {"apiToken": TOKEN},
}

#: Canonical name -> every accepted spelling (kept apart from schemas.opscom on
#: purpose: the table is the independent statement of the API).
SPELLINGS = {
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
#: Fields each operation documents (besides apiToken).
DOCUMENTED = {
    "push": ("amount", "currency", "startTime", "endTime", "plate", "permitNo", "zone"),
    "update": ("referenceID", "plate", "amount", "currency", "endTime"),
    "delete": ("referenceID",),
    "stats": ("zones",),
}
VALID = {
    "referenceID": REF,
    "amount": "14.50",
    "currency": "CAD",
    "startTime": START,
    "endTime": END,
    "plate": "PL8RDR",
    "permitNo": "L4-1138",
    "zone": "Lot 4",
    "zones": "Lot 01,Lot 02",
}


def body(op: str, without: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """The op's minimal valid body, less `without`, plus `fields` (any spelling)."""
    base = {key: value for key, value in _BASE[op].items() if key not in without}
    return {**base, **fields}


def with_ref(request: dict[str, Any], ref: str) -> dict[str, Any]:
    """`request` with every "{ref}" value replaced by a real reference."""
    return {key: ref if value == REF else value for key, value in request.items()}


def _spelling_cases() -> list[Case]:
    """Each documented field under each of its spellings, on each op that takes it."""
    cases = []
    for op, names in DOCUMENTED.items():
        for name in names:
            for spelling in SPELLINGS[name]:
                request = body(op, without=(name,), **{spelling: VALID[name]})
                cases.append(Case(f"{op}-spelling-{spelling}", op, request, None))
    return cases


# Values per field: (label, value, ErrorCode); run on every op documenting the field.
_AMOUNTS = [
    ("min", "0.01", None),
    ("max", "999999.99", None),
    ("typical", "14.50", None),
    ("zero", "0.00", 9033),
    ("over-max", "1000000.00", 9030),  # 10 characters: length is checked first
    ("three-decimals-10-chars", "999999.999", 9030),
    ("one-decimal", "14.5", 9033),
    ("no-decimals", "1450", 9033),
    ("three-decimals", "14.500", 9033),
    ("two-digits", ".50", 9033),
    ("negative", "-1.00", 9033),
    ("letters", "abc", 9033),
    ("empty", "", 9033),
    ("number", 14.5, 9033),
    ("ten-chars", "0000001.00", 9030),
]
_PLATES = [
    ("25-chars", "A" * 25, None),
    ("26-chars", "A" * 26, 9030),
    ("empty", "", 9006),
    ("with-space", "ABC 123", None),
]
_CURRENCIES = [
    ("CAD", "CAD", None),
    ("USD", "USD", None),
    ("EUR", "EUR", 9033),
    ("lowercase", "cad", 9033),
    ("10-chars", "CADCADCADC", 9033),
    ("11-chars", "CADCADCADCA", 9030),
    ("empty", "", 9033),
]
_ZONES = [
    ("200-chars", "Z" * 200, None),
    ("201-chars", "Z" * 201, 9030),
    ("empty", "", None),
]
_PERMIT_NOS = [
    ("50-chars", "P" * 50, None),
    ("51-chars", "P" * 51, 9030),
]
#: Times: only `Y-m-d\TH:i:s` is valid for OPS-COM itself. Code = start's; end's differs.
_TIMES = [
    ("leap-day", "2020-02-29T00:00:00", None),
    ("end-of-day", "2018-07-02T23:59:59", None),
    ("Z", "2018-07-02T09:00:00Z", 9007),
    ("offset-plus", "2018-07-02T09:00:00+05:30", 9007),
    ("offset-minus", "2018-07-02T09:00:00-04:00", 9007),
    ("fraction", "2018-07-02T09:00:00.123", 9007),
    ("date-only", "2018-07-02", 9007),
    ("space", "2018-07-02 09:00:00", 9007),
    ("no-seconds", "2018-07-02T09:00", 9007),
    ("one-digit-hour", "2018-07-02T9:00:00", 9007),
    ("us-format", "07/02/2018 09:00:00", 9007),
    ("feb-30", "2018-02-30T09:00:00", 9007),
    ("feb-29-non-leap", "2019-02-29T09:00:00", 9007),
    ("hour-24", "2018-07-02T24:00:00", 9007),
    ("epoch-number", 1530522000, 9007),
]
_END_TIMES = [(label, value, 9005 if code else None) for label, value, code in _TIMES]
_REFS = [
    ("50-chars", "a" * 50, 9009),
    ("51-chars", "a" * 51, 9030),
    ("uuid-unknown", UNKNOWN_REF, 9009),
    ("underscore", "abc_def", 9033),
    ("space", "abc def", 9033),
    ("empty", "", 9008),
    ("null", None, 9008),
]
_TOKENS = [
    ("wrong", "wrong-token", 9002),
    ("50-chars-wrong", "t" * 50, 9002),
    ("51-chars", "t" * 51, 9030),
    ("bad-chars", "test token!", 9033),
    ("underscore", "test_token_123", 9033),
    ("empty", "", 9001),
    ("null", None, 9001),
]
_VALUES = {
    "amount": _AMOUNTS,
    "plate": _PLATES,
    "currency": _CURRENCIES,
    "zone": _ZONES,
    "permitNo": _PERMIT_NOS,
    "startTime": _TIMES,
    "endTime": _END_TIMES,
    "referenceID": _REFS,
}


def _limit_cases() -> list[Case]:
    """Every boundary and format case of every field, on every op documenting it."""
    cases = []
    for op, names in DOCUMENTED.items():
        for name in names:
            for label, value, code in _VALUES.get(name, []):
                request = body(op, **{name: value})
                cases.append(Case(f"{op}-{name}-{label}", op, request, code))
        for label, value, code in _TOKENS:
            cases.append(Case(f"{op}-apiToken-{label}", op, body(op, apiToken=value), code))
    return cases


_MISSING = [
    Case("push-missing-apiToken", "push", body("push", without=("apiToken",)), 9001),
    Case("push-missing-plate", "push", body("push", without=("plate",)), 9006),
    Case("push-null-plate", "push", body("push", plate=None), 9006),
    Case("push-missing-startTime", "push", body("push", without=("startTime",)), 9031),
    Case("push-empty-startTime", "push", body("push", startTime=""), 9031),
    Case("push-missing-endTime", "push", body("push", without=("endTime",)), 9004),
    Case("push-empty-endTime", "push", body("push", endTime=""), 9004),
    Case("push-empty-body", "push", {}, 9001),
    Case("push-token-before-plate", "push", body("push", without=("apiToken", "plate")), 9001),
    Case("push-plate-before-end", "push", body("push", without=("plate", "endTime")), 9006),
    Case("push-missing-before-invalid", "push", body("push", without=("plate",), amount="x"), 9006),
    Case("update-missing-apiToken", "update", body("update", without=("apiToken",)), 9001),
    Case("update-missing-referenceID", "update", body("update", without=("referenceID",)), 9008),
    Case("delete-missing-apiToken", "delete", body("delete", without=("apiToken",)), 9001),
    Case("delete-missing-referenceID", "delete", body("delete", without=("referenceID",)), 9008),
    Case("stats-missing-apiToken", "stats", {}, 9001),
]

_EXAMPLES = [
    # The requests exactly as the OPS-COM pages show them.
    Case(
        "push-doc-example",
        "push",
        {
            "apiToken": TOKEN,
            "Amount": "14.50",
            "CurrencyID": "CAD",
            "LicencePlate": "PL8RDR",
            "zone": "Lot 4",
            "permitNo": "L4-1138",
            "startTime": START,
            "endTime": END,
        },
        None,
    ),
    Case(
        "update-doc-example",
        "update",
        body("update", plate="PL8RDR", Amount="14.50", currency="CAD", endTime=END),
        None,
    ),
    Case("delete-doc-example", "delete", body("delete"), None),
    Case("update-reference-only", "update", body("update"), None),
    Case("stats-all-zones", "stats", body("stats"), None),
    Case("stats-empty-zones", "stats", body("stats", zones=""), None),
    Case("stats-null-zones", "stats", body("stats", zones=None), None),
    Case("stats-zones-list", "stats", body("stats", zones=["Lot 01"]), 9033),
]

_OTHER = [
    Case("push-unknown-field", "push", body("push", colour="red"), None),
    Case("push-null-optional", "push", body("push", zone=None, amount=None), None),
    Case("push-referenceID-ignored", "push", body("push", referenceID="abc"), None),
    Case("update-startTime-ignored", "update", body("update", startTime=START), None),
    Case("update-zone-ignored", "update", body("update", zone="Lot 4", permitNo="X"), None),
    Case("update-null-plate", "update", body("update", plate=None), None),
    Case("delete-plate-ignored", "delete", body("delete", plate="PL8RDR"), None),
    Case("push-same-value-twice", "push", body("push", amount="14.50", Amount="14.50"), None),
    Case("push-conflict-amount", "push", body("push", amount="14.50", Amount="15.00"), 9033),
    Case("push-conflict-plate", "push", body("push", LicencePlate="OTHER"), 9033),
    Case("update-same-ref-twice", "update", body("update", reference_id=REF), None),
    Case("update-conflict-ref", "update", body("update", referenceid=UNKNOWN_REF), 9033),
    Case("push-plate-number", "push", body("push", plate=12345), 9033),
]

CASES: list[Case] = [*_spelling_cases(), *_limit_cases(), *_MISSING, *_EXAMPLES, *_OTHER]
