"""Passport parking session events (v3): started -> create, extended/stopped -> update.

One request may carry several sessions of one type; they are translated all or
none (one error fails the request). Event id per session: `<webhook-id>:<session_id>`.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from schemas.vendors.base import (
    Amount,
    Context,
    Draft,
    Identifier,
    VendorSchema,
    compact,
    finish,
    load_body,
)

ACTIONS = {"parking_session_started": "create", "parking_session_extended": "update",
           "parking_session_stopped": "update"}
DT = {"format": "date-time"}


class Vehicle(VendorSchema):
    vehicle_plate = fields.String(required=True)
    vehicle_state = fields.String(allow_none=True)
    vehicle_country = fields.String(allow_none=True)


class Fees(VendorSchema):
    parking_fee = Amount(metadata={"type": "string"})
    convenience_fee = Amount(metadata={"type": "string"})
    tax = Amount(metadata={"type": "string"})
    currency_code = fields.String()


class Payment(VendorSchema):
    gateway_transaction_id = Identifier()
    payment_type = fields.String()


class Session(VendorSchema):
    occurred_at = fields.String(metadata=DT)
    session_id = Identifier(required=True)
    operator_id = Identifier()
    passport_zone_id = Identifier(allow_none=True)
    external_zone_id = Identifier(allow_none=True)
    start_time = fields.String(metadata=DT)
    end_time = fields.String(metadata=DT)
    account_id = Identifier(allow_none=True)
    vehicle = fields.Nested(Vehicle, required=True)
    space_number = Identifier(allow_none=True)
    event_fees = fields.Nested(Fees)
    total_session_fees = fields.Nested(Fees)
    rate_name = fields.String(allow_none=True)
    payment = fields.Nested(Payment, allow_none=True)


class PassportEvent(VendorSchema):
    """A Passport parking-session event carrying one or more sessions."""

    type = fields.String(required=True, validate=validate.OneOf(tuple(ACTIONS)))
    version = fields.String()
    data = fields.List(fields.Nested(Session), required=True, validate=validate.Length(min=1))


class Passport:
    name = "passport"
    body_schema = PassportEvent

    def translate(self, payload: Any, context: Context) -> list[dict[str, Any]]:
        body = load_body(PassportEvent, payload)
        action = ACTIONS[body["type"]]
        drafts = [_draft(action, body["type"], i, s, context) for i, s in enumerate(body["data"])]
        return finish(drafts, context)


def _draft(action: str, kind: str, index: int, session: dict[str, Any], context: Context) -> Draft:
    base = ("data", str(index))
    sid = session["session_id"]
    delivery = context.webhook_id or f"{kind}:{session.get('occurred_at', '')}"
    fees_name = "event_fees" if action == "create" else "total_session_fees"
    fees = session.get(fees_name) or {}
    currency = fees.get("currency_code") or (session.get("event_fees") or {}).get("currency_code")
    command = compact({
        "action": action, "source": context.source, "source_id": sid,
        "event_id": f"{delivery}:{sid}", "plate": session["vehicle"]["vehicle_plate"],
        "endTime": session.get("end_time"), "amount": fees.get("parking_fee"),
        "currency": currency,
    })
    paths = {"source_id": (*base, "session_id"), "plate": (*base, "vehicle", "vehicle_plate"),
             "endTime": (*base, "end_time"), "startTime": (*base, "start_time"),
             "amount": (*base, fees_name, "parking_fee"),
             "currency": (*base, fees_name, "currency_code")}
    if action == "update":
        return Draft(command, paths, base=base)
    command.update(compact({"startTime": session.get("start_time")}))
    zones = [((*base, "external_zone_id"), session.get("external_zone_id")),
             ((*base, "passport_zone_id"), session.get("passport_zone_id"))]
    return Draft(command, paths, base=base, zones=zones)
