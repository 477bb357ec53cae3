"""The OPS-COM request schemas against the shared case table, and body building."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from schemas.opscom import (
    ALIASES,
    ERROR_MESSAGES,
    OP_FIELDS,
    REQUEST_SCHEMAS,
    ErrorResponse,
    PushRequest,
    StatsResponse,
    SuccessResponse,
    UpdateRequest,
    build_request,
    dropped_fields,
    error_code_for,
)
from tests.opscom_cases import (
    CASES,
    DOCUMENTED,
    END,
    SERVER_ONLY_CODES,
    SPELLINGS,
    START,
    TOKEN,
    Case,
    with_ref,
)

REF = "1a9b5375-cb75-4c71-9939-eeae550b09ac"


def test_case_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_aliases_match_the_documented_spellings():
    assert ALIASES == SPELLINGS


def test_error_messages_cover_the_documented_codes():
    documented = {*range(9000, 9010), 9022, *range(9030, 9034)}
    assert set(ERROR_MESSAGES) == documented
    assert ERROR_MESSAGES[9001] == "API Token is missing from the request."


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_request_schema_follows_the_table(case: Case):
    # Given a body from the shared table, with a well-formed reference filled in
    schema = REQUEST_SCHEMAS[case.op]()
    request = with_ref(case.body, REF)
    if case.error_code is None or case.error_code in SERVER_ONLY_CODES:
        # Then the schema accepts it, with canonical names only
        loaded = schema.load(request)
        assert set(loaded) <= {"apiToken", *DOCUMENTED[case.op]}
    else:
        # Then it refuses it, and the errors map to the documented code
        with pytest.raises(ValidationError) as caught:
            schema.load(request)
        assert error_code_for(case.op, caught.value.messages) == case.error_code


def test_load_returns_canonical_spellings():
    request = {
        "apiToken": TOKEN,
        "Amount": "14.50",
        "CurrencyID": "CAD",
        "LicencePlate": "PL8RDR",
        "ParkingZoneName": "Lot 4",
        "TicketNumber": "L4-1138",
        "StartDateUtc": START,
        "EndDateUtc": END,
        "ignored": True,
    }
    assert PushRequest().load(request) == {
        "apiToken": TOKEN,
        "amount": "14.50",
        "currency": "CAD",
        "plate": "PL8RDR",
        "zone": "Lot 4",
        "permitNo": "L4-1138",
        "startTime": START,
        "endTime": END,
    }


def test_errors_are_keyed_by_the_senders_spelling():
    with pytest.raises(ValidationError) as caught:
        UpdateRequest().load({"apiToken": TOKEN, "reference_id": REF, "LicencePlate": "A" * 26})
    assert caught.value.messages == {"LicencePlate": ["Longer than maximum length 25."]}


def test_conflicting_spellings_name_the_other_one():
    with pytest.raises(ValidationError) as caught:
        UpdateRequest().load({"apiToken": TOKEN, "referenceID": REF, "reference_id": "other"})
    assert caught.value.messages == {
        "reference_id": ["Given again under another name with a different value: referenceID."]
    }


def test_non_object_body_is_a_parse_error():
    with pytest.raises(ValidationError) as caught:
        PushRequest().load(["not", "an", "object"])  # type: ignore[arg-type]
    assert error_code_for("push", caught.value.messages) == 9003


def test_error_code_for_rejects_unknown_operations():
    with pytest.raises(ValueError, match="unknown OPS-COM operation"):
        error_code_for("pull", {})


def test_success_response():
    body = {"status": "success", "reference_id": REF, "InternalReferenceID": REF, "x": 1}
    assert SuccessResponse().load(body) == {
        "status": "success",
        "reference_id": REF,
        "InternalReferenceID": REF,
    }
    with pytest.raises(ValidationError):
        SuccessResponse().load({"status": "failed", "reference_id": REF})


def test_stats_response_totals_are_strings():
    body = {
        "data": [
            {"type": "standard", "zone": "zone1", "total": "4"},
            {"type": "temp", "zone": "zone1", "total": 35},
        ]
    }
    assert StatsResponse().load(body) == {
        "data": [
            {"type": "standard", "zone": "zone1", "total": "4"},
            {"type": "temp", "zone": "zone1", "total": "35"},
        ]
    }
    with pytest.raises(ValidationError):
        StatsResponse().load({"status": "success"})


def test_error_response():
    body = {"ErrorCode": 9001, "ErrorMessage": ERROR_MESSAGES[9001]}
    assert ErrorResponse().load(body) == body
    with pytest.raises(ValidationError):
        ErrorResponse().load({"status": "success"})


COMMAND = {
    "action": "create",
    "source": "test",
    "source_id": "42",
    "event_id": "evt-1",
    "referenceID": REF,
    "plate": "PL8RDR",
    "zone": "Lot 4",
    "permitNo": "L4-1138",
    "amount": "14.50",
    "currency": "CAD",
    "startTime": START,
    "endTime": END,
}


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (
            "push",
            {
                "apiToken": TOKEN,
                "plate": "PL8RDR",
                "zone": "Lot 4",
                "permitNo": "L4-1138",
                "amount": "14.50",
                "currency": "CAD",
                "startTime": START,
                "endTime": END,
            },
        ),
        (
            "update",
            {
                "apiToken": TOKEN,
                "referenceID": REF,
                "plate": "PL8RDR",
                "amount": "14.50",
                "currency": "CAD",
                "endTime": END,
            },
        ),
        ("delete", {"apiToken": TOKEN, "referenceID": REF}),
    ],
)
def test_build_request_sends_only_documented_fields(op, expected):
    body = build_request(op, COMMAND, TOKEN)
    assert body == expected
    assert REQUEST_SCHEMAS[op]().load(body) == expected


@pytest.mark.parametrize(
    ("op", "dropped"),
    [
        ("push", ["referenceID"]),
        ("update", ["zone", "permitNo", "startTime"]),
        ("delete", ["plate", "zone", "permitNo", "amount", "currency", "startTime", "endTime"]),
    ],
)
def test_dropped_fields(op, dropped):
    assert dropped_fields(op, COMMAND) == dropped


def test_build_request_leaves_out_absent_fields():
    command = {"action": "update", "source": "test", "source_id": "42", "endTime": END}
    body = build_request("update", command, TOKEN, reference_id=REF)
    assert body == {"apiToken": TOKEN, "referenceID": REF, "endTime": END}


def test_stored_reference_overrides_the_commands():
    body = build_request("delete", COMMAND, TOKEN, reference_id="stored-ref")
    assert body == {"apiToken": TOKEN, "referenceID": "stored-ref"}


@pytest.mark.parametrize("op", ["update", "delete"])
def test_build_request_needs_a_reference(op):
    command = {"action": op, "source": "test", "source_id": "42"}
    with pytest.raises(ValueError, match="needs a referenceID"):
        build_request(op, command, TOKEN)


def test_build_request_refuses_stats_and_unknown_ops():
    for op in ("stats", "pull"):
        with pytest.raises(ValueError):
            build_request(op, COMMAND, TOKEN)


def test_op_fields_are_the_documented_ones():
    for op, names in OP_FIELDS.items():
        assert set(names) == set(DOCUMENTED[op])
