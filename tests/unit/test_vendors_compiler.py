"""Vendors defined only in BRIDGE_CONFIG: compiled at start, broken ones refused by name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError

from bridge.errors import ConfigError
from bridge.settings import Settings, load_config_file
from bridge.web.vendors import build_registry
from schemas.vendors.compiler import compile_vendor
from schemas.vendors.conversions import cents_to_dollars, localize, to_string

EXAMPLE = Path(__file__).parents[2] / "examples" / "vendors.yaml"


def example() -> dict[str, Any]:
    return load_config_file(str(EXAMPLE))


def parkfast(event: str = "session.paid", **session: Any) -> dict[str, Any]:
    body = {"id": 981, "receipt": 55012, "starts_at": "2025-05-01T08:00:00",
            "ends_at": "2025-05-01T10:00:00", "price_cents": 1250,
            "vehicle": {"plate": "abc 123"}, "location": {"code": "P-4"}}
    body.update(session)
    return {"delivery_id": "d-1", "event": event, "session": body}


@pytest.fixture
def vendor():
    return build_registry(Settings(config=example()))["parkfast"]


CASES = [
    ("paid -> create, local time zone, cents, constant currency, zone map", parkfast(),
     [{"action": "create", "source": "parkfast", "source_id": "981", "event_id": "d-1",
       "plate": "ABC 123", "zone": "Lot 4", "permitNo": "55012", "amount": "12.50",
       "currency": "CAD", "startTime": "2025-05-01T12:00:00", "endTime": "2025-05-01T14:00:00"}]),
    ("extended -> update; a time with offset keeps it", parkfast(
        "session.extended", ends_at="2025-05-01T15:00:00Z", price_cents="1999"),
     [{"action": "update", "source": "parkfast", "source_id": "981", "event_id": "d-1",
       "plate": "ABC 123", "zone": "Lot 4", "permitNo": "55012", "amount": "19.99",
       "currency": "CAD", "startTime": "2025-05-01T12:00:00", "endTime": "2025-05-01T15:00:00"}]),
    ("refunded -> delete", parkfast("session.refunded"),
     [{"action": "delete", "source": "parkfast", "source_id": "981", "event_id": "d-1"}]),
    ("ping -> ignored", {"delivery_id": "d-2", "event": "ping", "session": {"id": 1}}, []),
]


@pytest.mark.parametrize("payload, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_yaml_vendor_translation(vendor, payload, expected):
    before = copy.deepcopy(payload)
    context = vendor.context(None)
    assert vendor.adapter.translate(payload, context) == expected
    assert payload == before


@pytest.mark.parametrize("payload, errors", [
    ({"event": "session.paid"}, {"delivery_id": ["Missing data for required field."],
                                 "session": ["Missing data for required field."]}),
    (parkfast("session.exploded"), {"event": ["Unknown event type 'session.exploded'."]}),
    (parkfast(vehicle={}), {"session": {"vehicle": {"plate": [
        "Missing data for required field."]}}}),
    (parkfast(price_cents="lots"), {"session": {"price_cents": ["Not a valid number."]}}),
    (parkfast("session.extended", ends_at="2025-05-01T07:00:00"),
     {"session": {"ends_at": ["Must not be before startTime."]}}),
    (parkfast(starts_at="tomorrow"), {"session": {"starts_at": [
        "Not a valid datetime: 'tomorrow'."]}}),
], ids=["missing", "event", "plate", "cents", "end-before-start", "time"])
def test_yaml_vendor_errors(vendor, payload, errors):
    with pytest.raises(ValidationError) as caught:
        vendor.adapter.translate(payload, vendor.context(None))
    assert caught.value.messages == errors


def test_example_file_configures_built_ins():
    vendors = build_registry(Settings(config=example()))
    assert vendors["easypark"].duplicate_status == 409
    assert vendors["easypark"].currency == "CAD"
    assert vendors["easypark"].zones.lookup(291048) == "Lot 01"
    assert vendors["paybyx"].zones.unknown == "reject"
    assert vendors["parkfast"].verifier.scheme == "hmac"


GOOD: dict[str, Any] = {"auth": {"scheme": "api_key"}, "fields": {"source_id": "id"}}


@pytest.mark.parametrize("change, where", [
    ({"fields": {"plates": "x", "source_id": "id"}}, "vendors.acme.fields.plates"),
    ({"fields": {"plate": "x"}}, "vendors.acme.fields"),
    ({"fields": {"source_id": {"path": "a..b"}}}, "vendors.acme.fields.source_id.path"),
    ({"fields": {"source_id": {"path": "a", "convert": "yen"}}},
     "vendors.acme.fields.source_id.convert"),
    ({"fields": {"source_id": "id", "startTime": {"path": "t", "timezone": "Mars/Base"}}},
     "vendors.acme.fields.startTime.timezone"),
    ({"event": {"path": "type", "map": {"x": "explode"}}}, "vendors.acme.event.map.x"),
    ({"event": {"map": {"x": "create"}}}, "vendors.acme.event.path"),
    ({"constants": {"colour": "red"}}, "vendors.acme.constants.colour"),
    ({"dedupe": 5}, "vendors.acme.dedupe"),
    ({"zones": {"unknown": "shrug"}}, "vendors.acme.zones.unknown"),
    ({"duplicate_status": 500}, "vendors.acme.duplicate_status"),
    ({"auth": {"scheme": "magic"}}, "vendors.acme.auth.scheme"),
    ({"auth": None}, "vendors.acme.auth"),
    ({"colour": "red"}, "vendors.acme.colour"),
])
def test_broken_definition_names_vendor_and_field(change, where):
    definition = {**GOOD, **change}
    with pytest.raises(ConfigError) as caught:
        build_registry(Settings(config={"vendors": {"acme": definition}}))
    assert where in str(caught.value)


def test_built_in_vendor_rejects_field_definitions():
    with pytest.raises(ConfigError, match=r"vendors\.easypark\.fields"):
        build_registry(Settings(config={"vendors": {"easypark": {"fields": {"plate": "x"}}}}))


def test_compiled_schema_is_nested_marshmallow():
    adapter = compile_vendor("acme", {**GOOD, "fields": {"source_id": {"path": "a.b.id",
                                                                        "required": True}}})
    schema = adapter.body_schema(unknown="exclude")
    assert schema.load({"a": {"b": {"id": 1}, "x": 2}}) == {"a": {"b": {"id": 1}}}
    with pytest.raises(ValidationError):
        schema.load({"a": {}})


def test_conversions():
    assert to_string(2791368361.0) == "2791368361"
    assert cents_to_dollars(1250) == "12.50"
    assert cents_to_dollars("5") == "0.05"
    assert localize("2025-01-15T08:00:00", "America/Toronto") == "2025-01-15T08:00:00-05:00"
    assert localize("2025-07-15T08:00:00Z", "America/Toronto") == "2025-07-15T08:00:00+00:00"
