"""The `standard` vendor: the body is the canonical permit command itself.

Event id: the body's `event_id`, else the Standard Webhooks `webhook-id` header.
Errors stay flat, as `schemas.command` reports them.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from schemas.command import PermitCommand, load_command
from schemas.vendors.base import Context, Draft, finish


class Standard:
    name = "standard"
    body_schema = PermitCommand

    def translate(self, payload: Any, context: Context) -> list[dict[str, Any]]:
        if not isinstance(payload, dict):
            raise ValidationError({"_schema": ["Invalid input type."]})
        raw = dict(payload)
        if not raw.get("event_id") and context.webhook_id:
            raw["event_id"] = context.webhook_id
        command = load_command(raw)
        zone = command.pop("zone", None)
        zones = [(("zone",), zone)] if zone is not None else []
        return finish([Draft(command, zones=zones)], context)
