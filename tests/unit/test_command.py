"""The canonical permit command: spellings, normalization, rules, error shapes."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.command import FIELD_ORDER, MISSING_KEY, PermitCommand, load_command
from schemas.fields import EMPTY, MISSING
from schemas.opscom import ALIASES

START = "2018-07-02T09:00:00"
END = "2018-07-02T09:30:00"
LATE = "2018-07-09T00:00:00"
REF = "1a9b5375-cb75-4c71-9939-eeae550b09ac"
BAD_TIME = "Not a valid time: use e.g. 2018-07-02T09:00:00, with an offset or Z if not UTC."
BAD_AMOUNT = "Not a valid amount."
RANGE = "Must be between 0.01 and 999999.99."
PRECISION = "More than two decimal places: give the amount in whole cents."

CREATE = {
    "action": "create",
    "source": "test",
    "source_id": "42",
    "plate": "PL8RDR",
    "startTime": START,
    "endTime": END,
}


def create(without: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """A valid create less `without`, plus `fields` (any spelling)."""
    return {**{k: v for k, v in CREATE.items() if k not in without}, **fields}


def normalized(**fields: Any) -> dict[str, Any]:
    """The normalized create with `fields` changed, in canonical key order."""
    merged = {**CREATE, **fields}
    return {name: merged[name] for name in FIELD_ORDER if merged.get(name) is not None}


VALID_VALUES = {
    "referenceID": REF,
    "amount": "14.50",
    "currency": "CAD",
    "startTime": START,
    "endTime": END,
    "plate": "PL8RDR",
    "permitNo": "L4-1138",
    "zone": "Lot 4",
}

SPELLING_CASES = [
    pytest.param(
        create(without=(name,), **{spelling: value}),
        normalized(**{name: value}),
        id=f"spelling-{spelling}",
    )
    for name, value in VALID_VALUES.items()
    for spelling in ALIASES[name]
]

ACCEPTED = [
    *SPELLING_CASES,
    # times: offset, Z or none; fractions cut; converted to UTC
    pytest.param(create(startTime="2018-07-02T14:30:00+05:30"), normalized(), id="offset-plus"),
    pytest.param(create(startTime="2018-07-02T05:00:00-04:00"), normalized(), id="offset-minus"),
    pytest.param(create(startTime="2018-07-02T14:30:00+0530"), normalized(), id="offset-no-colon"),
    pytest.param(create(startTime="2018-07-02T09:00:00Z"), normalized(), id="zulu"),
    pytest.param(create(startTime="2018-07-02t09:00:00z"), normalized(), id="zulu-lowercase"),
    pytest.param(create(startTime="2018-07-02T09:00:00"), normalized(), id="no-offset-is-utc"),
    pytest.param(create(startTime="2018-07-02 09:00:00"), normalized(), id="space-separator"),
    pytest.param(create(startTime="2018-07-02T09:00:00.999999Z"), normalized(), id="fraction-cut"),
    pytest.param(create(startTime="2018-07-02T09:00:00.5+00:00"), normalized(), id="fraction-off"),
    pytest.param(
        create(startTime="2018-07-02T01:00:00+05:30"),
        normalized(startTime="2018-07-01T19:30:00"),
        id="offset-previous-day",
    ),
    pytest.param(
        create(startTime="2019-01-01T00:30:00+01:00", endTime="2019-01-01T00:30:00Z"),
        normalized(startTime="2018-12-31T23:30:00", endTime="2019-01-01T00:30:00"),
        id="offset-previous-year",
    ),
    pytest.param(create(endTime=START), normalized(endTime=START), id="end-equals-start"),
    pytest.param(
        create(startTime="2018-07-02T09:30:00+01:00"),
        normalized(startTime="2018-07-02T08:30:00"),
        id="end-after-start-only-in-utc",
    ),
    # amounts: numbers or strings -> two-decimal strings
    pytest.param(create(amount=14.5), normalized(amount="14.50"), id="amount-float"),
    pytest.param(create(amount="14.5"), normalized(amount="14.50"), id="amount-one-decimal"),
    pytest.param(create(amount=7), normalized(amount="7.00"), id="amount-int"),
    pytest.param(create(amount="7"), normalized(amount="7.00"), id="amount-int-string"),
    pytest.param(create(amount="7.00"), normalized(amount="7.00"), id="amount-canonical"),
    pytest.param(create(amount="14.500"), normalized(amount="14.50"), id="amount-trailing-zero"),
    pytest.param(create(amount=" 14.50 "), normalized(amount="14.50"), id="amount-padded"),
    pytest.param(create(amount=0.01), normalized(amount="0.01"), id="amount-min"),
    pytest.param(create(amount=999999.99), normalized(amount="999999.99"), id="amount-max"),
    pytest.param(create(Amount="007.10"), normalized(amount="7.10"), id="amount-leading-zeros"),
    # plates trimmed and upper-cased, currency upper-cased
    pytest.param(create(plate=" abc 123 "), normalized(plate="ABC 123"), id="plate-trimmed"),
    pytest.param(
        create(without=("plate",), LicencePlate="pl8rdr"), normalized(), id="plate-uppercased"
    ),
    pytest.param(create(plate=" " + "a" * 25 + " "), normalized(plate="A" * 25), id="plate-25"),
    pytest.param(create(currency="cad"), normalized(currency="CAD"), id="currency-lower"),
    pytest.param(create(CurrencyID=" usd "), normalized(currency="USD"), id="currency-padded"),
    # ids and optional fields
    pytest.param(create(source_id=42), normalized(source_id="42"), id="source-id-number"),
    pytest.param(create(event_id=7), normalized(event_id="7"), id="event-id-number"),
    pytest.param(create(event_id="evt-1"), normalized(event_id="evt-1"), id="event-id"),
    pytest.param(create(zone=None, amount=None), normalized(), id="null-is-absent"),
    pytest.param(create(permitNo=1138), normalized(permitNo="1138"), id="permit-no-number"),
    pytest.param(create(amount="1.00", Amount="1.00"), normalized(amount="1.00"), id="same-twice"),
    # update and delete
    pytest.param(
        {"action": "update", "source": "test", "source_id": "42", "endTime": LATE},
        {"action": "update", "source": "test", "source_id": "42", "endTime": LATE},
        id="update-by-source-id",
    ),
    pytest.param(
        {"action": "update", "source": "test", "reference_id": REF, "Amount": 3},
        {"action": "update", "source": "test", "referenceID": REF, "amount": "3.00"},
        id="update-by-reference",
    ),
    pytest.param(
        {"action": "delete", "source": "test", "source_id": "42"},
        {"action": "delete", "source": "test", "source_id": "42"},
        id="delete-by-source-id",
    ),
    pytest.param(
        {"action": "delete", "source": "test", "referenceid": REF},
        {"action": "delete", "source": "test", "referenceID": REF},
        id="delete-by-reference",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_accepted_commands_are_normalized(raw: dict[str, Any], expected: dict[str, Any]):
    loaded = load_command(raw)
    assert loaded == expected
    assert list(loaded) == [name for name in FIELD_ORDER if name in loaded]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_loading_the_normalized_command_again_changes_nothing(raw, expected):
    once = load_command(raw)
    assert PermitCommand().load(once) == once


REJECTED = [
    # action rules
    pytest.param(create(without=("action",)), {"action": [MISSING]}, id="action-missing"),
    pytest.param(
        create(action="upsert"),
        {"action": ["Must be one of: create, update, delete."]},
        id="action-unknown",
    ),
    pytest.param(
        {"action": "create", "source": "test"},
        {name: [MISSING] for name in ("source_id", "plate", "startTime", "endTime")},
        id="create-needs-key-plate-times",
    ),
    pytest.param(create(plate=None), {"plate": [MISSING]}, id="create-null-plate"),
    pytest.param(
        {"action": "update", "source": "test", "plate": "X"},
        {"source_id": [MISSING_KEY]},
        id="update-needs-a-key",
    ),
    pytest.param(
        {"action": "delete", "source": "test"}, {"source_id": [MISSING_KEY]}, id="delete-needs-key"
    ),
    # envelope
    pytest.param(create(without=("source",)), {"source": [MISSING]}, id="source-missing"),
    pytest.param(create(source=""), {"source": [EMPTY]}, id="source-empty"),
    pytest.param(
        create(source="s" * 101), {"source": ["Longer than maximum length 100."]}, id="source-101"
    ),
    pytest.param(create(source=5), {"source": ["Not a valid string."]}, id="source-number"),
    pytest.param(create(source_id=True), {"source_id": ["Not a valid string."]}, id="id-bool"),
    pytest.param(create(source_id=1.5), {"source_id": ["Not a valid string."]}, id="id-float"),
    pytest.param(
        create(event_id="e" * 201),
        {"event_id": ["Longer than maximum length 200."]},
        id="event-id-201",
    ),
    # amounts
    pytest.param(
        create(amount="1.005"),
        {"amount": [PRECISION]},
        id="amount-three-decimals",
    ),
    pytest.param(create(amount=0.1 + 0.2), {"amount": [PRECISION]}, id="amount-float-noise"),
    pytest.param(create(amount="nan"), {"amount": [BAD_AMOUNT]}, id="amount-nan"),
    pytest.param(create(amount=float("nan")), {"amount": [BAD_AMOUNT]}, id="amount-float-nan"),
    pytest.param(create(amount=float("inf")), {"amount": [BAD_AMOUNT]}, id="amount-inf"),
    pytest.param(create(amount="1e3"), {"amount": [BAD_AMOUNT]}, id="amount-exponent"),
    pytest.param(create(amount="14,50"), {"amount": [BAD_AMOUNT]}, id="amount-comma"),
    pytest.param(create(amount=True), {"amount": [BAD_AMOUNT]}, id="amount-bool"),
    pytest.param(create(amount=""), {"amount": [BAD_AMOUNT]}, id="amount-empty"),
    pytest.param(create(amount=-1), {"amount": [RANGE]}, id="amount-negative"),
    pytest.param(create(amount="0"), {"amount": [RANGE]}, id="amount-zero"),
    pytest.param(
        create(Amount=1000000),
        {"Amount": ["Longer than maximum length 9.", RANGE]},
        id="amount-over-max",
    ),
    # plates, currency, zone, permit number, reference
    pytest.param(
        create(without=("plate",), LicencePlate="A" * 26),
        {"LicencePlate": ["Longer than maximum length 25."]},
        id="plate-26-keyed-by-spelling",
    ),
    pytest.param(create(plate="   "), {"plate": [EMPTY]}, id="plate-blank"),
    pytest.param(
        create(currency="eur"), {"currency": ["Must be one of: CAD, USD."]}, id="currency-eur"
    ),
    pytest.param(
        create(zone="Z" * 201), {"zone": ["Longer than maximum length 200."]}, id="zone-201"
    ),
    pytest.param(
        create(TicketNumber="P" * 51),
        {"TicketNumber": ["Longer than maximum length 50."]},
        id="permit-no-51",
    ),
    pytest.param(
        create(reference_id="abc_def"),
        {"reference_id": ["Only letters, digits and dashes are allowed."]},
        id="reference-bad-char",
    ),
    # times
    pytest.param(create(startTime="2018-02-30T09:00:00"), {"startTime": [BAD_TIME]}, id="feb-30"),
    pytest.param(create(startTime="2018-07-02"), {"startTime": [BAD_TIME]}, id="date-only"),
    pytest.param(create(startTime="2018-07-02T09:00"), {"startTime": [BAD_TIME]}, id="no-seconds"),
    pytest.param(create(startTime=1530522000), {"startTime": [BAD_TIME]}, id="epoch-number"),
    pytest.param(
        create(without=("startTime",), StartDateUtc="2018-07-02T09:00:00+24:00"),
        {"StartDateUtc": [BAD_TIME]},
        id="offset-out-of-range",
    ),
    pytest.param(
        create(without=("startTime",), StartDateUtc="07/02/2018 09:00:00"),
        {"StartDateUtc": [BAD_TIME]},
        id="us-format",
    ),
    pytest.param(
        create(EndDateUtc="2018-07-02T08:59:59", without=("endTime",)),
        {"EndDateUtc": ["Must not be before startTime."]},
        id="end-before-start",
    ),
    pytest.param(
        create(endTime="2018-07-02T09:30:00+01:00"),
        {"endTime": ["Must not be before startTime."]},
        id="end-before-start-in-utc",
    ),
    # shape of the body
    pytest.param(create(colour="red"), {"colour": ["Unknown field."]}, id="unknown-field"),
    pytest.param(create(apiToken="secret"), {"apiToken": ["Unknown field."]}, id="no-token"),
    pytest.param(
        create(LicencePlate="OTHER"),
        {"LicencePlate": ["Given again under another name with a different value: plate."]},
        id="conflicting-spellings",
    ),
    pytest.param(
        create(without=("source",), LicencePlate="A" * 26, endTime="x", colour=1),
        {
            "source": [MISSING],
            "LicencePlate": ["Given again under another name with a different value: plate."],
            "endTime": [BAD_TIME],
            "colour": ["Unknown field."],
        },
        id="every-fault-at-once",
    ),
]


@pytest.mark.parametrize(("raw", "errors"), REJECTED)
def test_rejected_commands_report_flat_errors(raw: dict[str, Any], errors: dict[str, Any]):
    with pytest.raises(ValidationError) as caught:
        load_command(raw)
    assert caught.value.messages == errors


@pytest.mark.parametrize("raw", [None, [], "create", 42])
def test_non_objects_are_refused(raw):
    with pytest.raises(ValidationError) as caught:
        load_command(raw)
    assert caught.value.messages == {"_schema": ["Invalid input type."]}


def test_default_action_applies_when_the_body_has_none():
    raw = {"source": "test", "source_id": "42", "endTime": LATE}
    assert load_command(raw, default_action="update")["action"] == "update"
    assert load_command({**raw, "action": None}, "delete")["action"] == "delete"


def test_body_action_wins_over_the_default():
    assert load_command(CREATE, default_action="delete")["action"] == "create"


def test_without_action_or_default_the_action_is_missing():
    raw = {k: v for k, v in CREATE.items() if k != "action"}
    with pytest.raises(ValidationError) as caught:
        load_command(raw)
    assert caught.value.messages == {"action": [MISSING]}


def test_load_command_does_not_change_the_raw_body():
    raw = {"source": "test", "source_id": "42", "LicencePlate": " x "}
    load_command(raw, "update")
    assert raw == {"source": "test", "source_id": "42", "LicencePlate": " x "}
