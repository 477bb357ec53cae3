"""ParkNexus PayByX: NEW -> create, EXTEND/UPDATE -> update, CANCEL -> delete, TEST -> ack.

Permit key: `enforcementData.transactionNumber`; dedupe key and event id: `messageId`.
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

ACTIONS = {"NEW": "create", "EXTEND": "update", "UPDATE": "update", "CANCEL": "delete"}
TYPES = (*ACTIONS, "TEST")
#: paymentData's total collected amount, under the names seen in PayByX integrations.
AMOUNT_NAMES = ("totalAmount", "totalCollectedAmount", "amount")
DT = {"format": "date-time"}


class EnforcementData(VendorSchema):
    transactionNumber = Identifier(required=True)
    ticketNumber = Identifier()
    transactionType = fields.String(required=True, validate=validate.OneOf(TYPES))
    transactionDateTime = fields.String(metadata=DT)
    zone = fields.String()
    vendorLotId = Identifier(required=True)
    licensePlate = fields.String()
    licensePlateState = fields.String()
    stallNumber = Identifier()
    fromDateTime = fields.String(required=True, metadata=DT)
    toDateTime = fields.String(required=True, metadata=DT)


class PaymentData(VendorSchema):
    totalAmount = Amount(metadata={"type": "number", "description": "total collected"})
    totalCollectedAmount = Amount(metadata={"type": "number"})
    amount = Amount(metadata={"type": "number"})
    currency = fields.String()


class PayByXTransaction(VendorSchema):
    """A PayByX parking-lot transaction."""

    messageId = Identifier(required=True)
    enforcementData = fields.Nested(EnforcementData, required=True)
    paymentData = fields.Nested(PaymentData)


class PayByX:
    name = "paybyx"
    body_schema = PayByXTransaction

    def translate(self, payload: Any, context: Context) -> list[dict[str, Any]]:
        if _is_test(payload):
            return []
        body = load_body(PayByXTransaction, payload)
        return finish([_draft(body, context)], context)


def _is_test(payload: Any) -> bool:
    """TEST is acknowledged whatever else the message holds (or lacks)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("enforcementData"), dict):
        return False
    return str(payload["enforcementData"].get("transactionType", "")).upper() == "TEST"


def _draft(body: dict[str, Any], context: Context) -> Draft:
    data, payment = body["enforcementData"], body.get("paymentData") or {}
    action = ACTIONS[data["transactionType"]]
    amount_name = next((n for n in AMOUNT_NAMES if payment.get(n) is not None), AMOUNT_NAMES[0])
    e = ("enforcementData",)
    command = {"action": action, "source": context.source,
               "source_id": data["transactionNumber"], "event_id": body["messageId"]}
    paths: dict[str, tuple[str, ...]] = {"source_id": (*e, "transactionNumber"),
                                         "event_id": ("messageId",)}
    if action == "delete":
        return Draft(command, paths, base=e)
    command.update(compact({
        "plate": data.get("licensePlate"), "endTime": data["toDateTime"],
        "amount": payment.get(amount_name), "currency": payment.get("currency"),
    }))
    paths.update({"plate": (*e, "licensePlate"), "endTime": (*e, "toDateTime"),
                  "amount": ("paymentData", amount_name), "currency": ("paymentData", "currency")})
    if action == "update":
        return Draft(command, paths, base=e)
    command.update(compact({"startTime": data["fromDateTime"],
                            "permitNo": data.get("ticketNumber")}))
    paths.update({"startTime": (*e, "fromDateTime"), "permitNo": (*e, "ticketNumber")})
    zones = [((*e, "zone"), data.get("zone")), ((*e, "vendorLotId"), data.get("vendorLotId"))]
    return Draft(command, paths, base=e, zones=zones)
