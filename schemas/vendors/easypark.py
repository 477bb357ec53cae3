"""EasyPark: one event per completed paid session -> create.

Dedupe key and permit key: `parkingId`. EasyPark treats 409 as "already processed",
so its duplicate answer is 409 (see bridge.web.vendors).
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

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

DT = {"format": "date-time"}


class EasyParkSession(VendorSchema):
    """A completed EasyPark parking session (real-time transactions webhook)."""

    parkingId = Identifier(required=True, metadata={"type": "integer"})
    parkingUserId = Identifier(metadata={"type": "integer"})
    licenseNumber = fields.String(required=True)
    startDate = fields.String(required=True, metadata=DT)
    endDate = fields.String(required=True, metadata=DT)
    parkingAreaId = Identifier(metadata={"type": "integer"})
    parkingAreaName = fields.String()
    parkingOperatorId = Identifier(metadata={"type": "integer"})
    parkingOperatorName = fields.String()
    price = Amount(metadata={"type": "number"})
    priceVatAmount = Amount(metadata={"type": "number"})
    priceExclusiveVatAmount = Amount(metadata={"type": "number"})
    transactionFeeExclusiveVatAmount = Amount(metadata={"type": "number"})
    transactionFeeVatAmount = Amount(metadata={"type": "number"})
    transactionFee = Amount(metadata={"type": "number"})
    currency = fields.String()


class EasyPark:
    name = "easypark"
    body_schema = EasyParkSession

    def translate(self, payload: Any, context: Context) -> list[dict[str, Any]]:
        body = load_body(EasyParkSession, payload)
        command = compact({
            "action": "create", "source": context.source,
            "source_id": body["parkingId"], "event_id": body["parkingId"],
            "plate": body["licenseNumber"],
            "startTime": body["startDate"], "endTime": body["endDate"],
            "amount": body.get("price"), "currency": body.get("currency"),
        })
        paths = {"source_id": ("parkingId",), "event_id": ("parkingId",),
                 "plate": ("licenseNumber",), "startTime": ("startDate",),
                 "endTime": ("endDate",), "amount": ("price",), "currency": ("currency",)}
        zones = [(("parkingAreaName",), body.get("parkingAreaName")),
                 (("parkingAreaId",), body.get("parkingAreaId"))]
        return finish([Draft(command, paths, zones=zones)], context)
