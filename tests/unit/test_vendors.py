"""Built-in vendor adapters: realistic payloads in, exact normalized commands out."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.vendors.base import Context
from schemas.vendors.easypark import EasyPark
from schemas.vendors.passport import Passport
from schemas.vendors.paybyx import PayByX
from schemas.vendors.standard import Standard
from schemas.vendors.zones import ZoneMap

EASYPARK = {
    "parkingId": 2791368361, "parkingUserId": 8993734, "licenseNumber": "ABC123",
    "startDate": "2025-12-04T12:02:37Z", "endDate": "2025-12-04T13:12:00Z",
    "parkingAreaId": 291048, "parkingAreaName": "Central Station P1", "parkingOperatorId": 403,
    "parkingOperatorName": "City Parking", "price": 22.45, "priceVatAmount": 4.49,
    "priceExclusiveVatAmount": 17.96, "transactionFeeExclusiveVatAmount": 3.96,
    "transactionFeeVatAmount": 0.99, "transactionFee": 4.95, "currency": "SEK",
}


def session(sid: str, **extra: Any) -> dict[str, Any]:
    base = {
        "occurred_at": "2025-06-01T14:00:00.123456Z", "session_id": sid, "operator_id": "op-9",
        "passport_zone_id": "pz-100", "external_zone_id": "LOT-4",
        "start_time": "2025-06-01T14:00:00.987Z", "end_time": "2025-06-01T16:00:00Z",
        "account_id": "acc-1", "space_number": "12",
        "vehicle": {"vehicle_plate": "abc123", "vehicle_state": "ON", "vehicle_country": "CA"},
        "event_fees": {"parking_fee": "4.00", "convenience_fee": "0.35", "tax": "0.52",
                       "currency_code": "CAD"},
        "rate_name": "Hourly", "payment": {"gateway_transaction_id": "gw-1",
                                            "payment_type": "credit_card"},
    }
    base.update(extra)
    return base


def passport(kind: str, *sessions: dict[str, Any]) -> dict[str, Any]:
    return {"type": f"parking_session_{kind}", "version": "3.0.0", "data": list(sessions)}


def paybyx(kind: str, **enforcement: Any) -> dict[str, Any]:
    data = {
        "transactionNumber": "6f1c8c1e-8a4e-4a53-9d7e-0e2f2b7a9c11", "ticketNumber": "T-100234",
        "transactionType": kind, "transactionDateTime": "2025-03-10T08:59:30-05:00",
        "zone": "North Lot", "vendorLotId": "NL-7", "licensePlate": "XYZ 987",
        "licensePlateState": "NY", "stallNumber": 44,
        "fromDateTime": "2025-03-10T09:00:00-05:00", "toDateTime": "2025-03-10T11:30:00-05:00",
    }
    data.update(enforcement)
    return {"messageId": "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10", "enforcementData": data,
            "paymentData": {"totalAmount": 7.5, "currency": "USD"}}


CASES = [
    ("easypark completed -> create (currency from config, zone by area id)", EasyPark(),
     EASYPARK, {"currency": "CAD", "zones": ZoneMap({"291048": "Lot 01"})},
     [{"action": "create", "source": "easypark", "source_id": "2791368361",
       "event_id": "2791368361", "plate": "ABC123", "zone": "Lot 01", "amount": "22.45",
       "currency": "CAD", "startTime": "2025-12-04T12:02:37", "endTime": "2025-12-04T13:12:00"}]),
    ("easypark, zone by area name, amount as string, id as string", EasyPark(),
     {**EASYPARK, "parkingId": "2791368362", "price": "10", "currency": "usd"},
     {"zones": ZoneMap({"Central Station P1": "Lot 02"})},
     [{"action": "create", "source": "easypark", "source_id": "2791368362",
       "event_id": "2791368362", "plate": "ABC123", "zone": "Lot 02", "amount": "10.00",
       "currency": "USD", "startTime": "2025-12-04T12:02:37", "endTime": "2025-12-04T13:12:00"}]),
    ("passport started -> create per session, fractional seconds cut", Passport(),
     passport("started", session("s-1", passport_zone_id="pz-200"),
              session("s-2", external_zone_id=None,
                                                  vehicle={"vehicle_plate": "zz 9"})),
     {"webhook_id": "msg_abc", "zones": ZoneMap({"pz-100": "Lot 9"})},
     [{"action": "create", "source": "passport", "source_id": "s-1", "event_id": "msg_abc:s-1",
       "plate": "ABC123", "zone": "LOT-4", "amount": "4.00", "currency": "CAD",
       "startTime": "2025-06-01T14:00:00", "endTime": "2025-06-01T16:00:00"},
      {"action": "create", "source": "passport", "source_id": "s-2", "event_id": "msg_abc:s-2",
       "plate": "ZZ 9", "zone": "Lot 9", "amount": "4.00", "currency": "CAD",
       "startTime": "2025-06-01T14:00:00", "endTime": "2025-06-01T16:00:00"}]),
    ("passport extended -> update of end and total", Passport(),
     passport("extended", session("s-1", end_time="2025-06-01T17:30:00-04:00",
                                  total_session_fees={"parking_fee": "7.00",
                                                      "currency_code": "CAD"})),
     {"webhook_id": "msg_def"},
     [{"action": "update", "source": "passport", "source_id": "s-1", "event_id": "msg_def:s-1",
       "plate": "ABC123", "amount": "7.00", "currency": "CAD", "endTime": "2025-06-01T21:30:00"}]),
    ("passport stopped -> update with the final end and total", Passport(),
     passport("stopped", session("s-1", end_time="2025-06-01T15:10:00Z",
                                 total_session_fees={"parking_fee": 5})),
     {"webhook_id": "msg_ghi"},
     [{"action": "update", "source": "passport", "source_id": "s-1", "event_id": "msg_ghi:s-1",
       "plate": "ABC123", "amount": "5.00", "currency": "CAD", "endTime": "2025-06-01T15:10:00"}]),
    ("paybyx NEW -> create", PayByX(), paybyx("NEW"), {},
     [{"action": "create", "source": "paybyx",
       "source_id": "6f1c8c1e-8a4e-4a53-9d7e-0e2f2b7a9c11",
       "event_id": "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10", "plate": "XYZ 987",
       "zone": "North Lot", "permitNo": "T-100234", "amount": "7.50", "currency": "USD",
       "startTime": "2025-03-10T14:00:00", "endTime": "2025-03-10T16:30:00"}]),
    ("paybyx NEW without zone -> vendorLotId through the zone map", PayByX(),
     paybyx("NEW", zone=None), {"zones": ZoneMap({"NL-7": "North"})},
     [{"action": "create", "source": "paybyx",
       "source_id": "6f1c8c1e-8a4e-4a53-9d7e-0e2f2b7a9c11",
       "event_id": "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10", "plate": "XYZ 987",
       "zone": "North", "permitNo": "T-100234", "amount": "7.50", "currency": "USD",
       "startTime": "2025-03-10T14:00:00", "endTime": "2025-03-10T16:30:00"}]),
    *[(f"paybyx {kind} -> update", PayByX(), paybyx(kind), {},
       [{"action": "update", "source": "paybyx",
         "source_id": "6f1c8c1e-8a4e-4a53-9d7e-0e2f2b7a9c11",
         "event_id": "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10", "plate": "XYZ 987",
         "amount": "7.50", "currency": "USD", "endTime": "2025-03-10T16:30:00"}])
      for kind in ("EXTEND", "UPDATE")],
    ("paybyx CANCEL -> delete", PayByX(), paybyx("CANCEL"), {},
     [{"action": "delete", "source": "paybyx",
       "source_id": "6f1c8c1e-8a4e-4a53-9d7e-0e2f2b7a9c11",
       "event_id": "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10"}]),
    ("paybyx TEST -> nothing to forward", PayByX(),
     {"enforcementData": {"transactionType": "TEST"}}, {}, []),
    ("standard with OPS-COM aliases and offsets; event id from webhook-id", Standard(),
     {"action": "create", "source": "acme-pos", "source_id": "r-77", "LicencePlate": "ab 12",
      "ParkingZoneName": "Lot 4", "TicketNumber": "L4-1138", "Amount": 14.5, "CurrencyID": "cad",
      "StartDateUtc": "2018-07-02T05:00:00-04:00", "EndDateUtc": "2018-07-02T09:30:00.75Z"},
     {"webhook_id": "msg_std"},
     [{"action": "create", "source": "acme-pos", "source_id": "r-77", "event_id": "msg_std",
       "plate": "AB 12", "zone": "Lot 4", "permitNo": "L4-1138", "amount": "14.50",
       "currency": "CAD", "startTime": "2018-07-02T09:00:00", "endTime": "2018-07-02T09:30:00"}]),
    ("standard delete by reference, body event_id wins", Standard(),
     {"action": "delete", "source": "acme-pos", "reference_id": "1a9b5375-cb75",
      "event_id": "evt-9"}, {"webhook_id": "msg_x"},
     [{"action": "delete", "source": "acme-pos", "event_id": "evt-9",
       "referenceID": "1a9b5375-cb75"}]),
]


@pytest.mark.parametrize("adapter, payload, options, expected",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_translation(adapter, payload, options, expected):
    context = Context(source=adapter.name, **options)
    before = copy.deepcopy(payload)
    assert adapter.translate(payload, context) == expected
    assert payload == before  # the payload (kept for dead letters) is not changed


ERROR_CASES = [
    ("easypark currency outside OPS-COM's", EasyPark(), EASYPARK, {},
     {"currency": ["Currency 'SEK' is not accepted by OPS-COM (CAD, USD); set a currency in "
                   "the vendor's configuration."]}),
    ("easypark missing plate", EasyPark(), {**EASYPARK, "licenseNumber": None}, {"currency": "CAD"},
     {"licenseNumber": ["Field may not be null."]}),
    ("passport: one bad session fails the request, at its own path", Passport(),
     passport("started", session("s-1"), session("s-2", end_time="2025-06-01T13:00:00Z"),
              session("s-3", start_time="yesterday")), {"webhook_id": "m"},
     {"data": {"1": {"end_time": ["Must not be before startTime."]},
               "2": {"start_time": ["Not a valid time: use e.g. 2018-07-02T09:00:00, "
                                    "with an offset or Z if not UTC."]}}}),
    ("passport unknown type", Passport(), {"type": "parking_session_paused", "data": [{}]}, {},
     None),
    ("passport amount with three decimals", Passport(),
     passport("started", session("s-1", event_fees={"parking_fee": "4.005"})), {},
     {"data": {"0": {"event_fees": {"parking_fee": [
         "More than two decimal places: give the amount in whole cents."]}}}}),
    ("paybyx missing required fields", PayByX(),
     {"messageId": "m", "enforcementData": {"transactionType": "NEW"}}, {},
     {"enforcementData": {"transactionNumber": ["Missing data for required field."],
                          "vendorLotId": ["Missing data for required field."],
                          "fromDateTime": ["Missing data for required field."],
                          "toDateTime": ["Missing data for required field."]}}),
    ("paybyx unknown zone rejected", PayByX(), paybyx("NEW"),
     {"zones": ZoneMap({"South Lot": "S"}, unknown="reject")},
     {"enforcementData": {"zone": ["Unknown zone 'North Lot'."]}}),
    ("standard is flat", Standard(), {"action": "create", "source": "a", "plate": "x",
                                      "startTime": "2018-07-02T09:00:00", "endTime": "bad"},
     {}, None),
]


@pytest.mark.parametrize("adapter, payload, options, errors",
                         [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_refusal(adapter, payload, options, errors):
    with pytest.raises(ValidationError) as caught:
        adapter.translate(payload, Context(source=adapter.name, **options))
    if errors is not None:
        assert caught.value.messages == errors
    else:
        assert caught.value.messages


def test_standard_errors_are_flat():
    with pytest.raises(ValidationError) as caught:
        Standard().translate({"action": "create", "source": "a", "plate": "x",
                              "startTime": "2018-07-02T09:00:00", "endTime": "bad"},
                             Context("standard"))
    assert set(caught.value.messages) == {"source_id", "endTime"}
    assert all(isinstance(v, list) for v in caught.value.messages.values())


def test_unknown_zone_passes_and_is_reported():
    context = Context("paybyx", zones=ZoneMap({"South Lot": "S"}))
    [command] = PayByX().translate(paybyx("NEW"), context)
    assert command["zone"] == "North Lot"
    assert context.unknown_zones == ["North Lot"]


def test_no_zone_map_means_no_unknown_zones():
    context = Context("paybyx")
    PayByX().translate(paybyx("NEW"), context)
    assert context.unknown_zones == []
