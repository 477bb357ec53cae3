"""POST /webhooks/<vendor>: verify, translate, dedupe, publish (confirmed), answer.

Checks run in the contract's order: 404 unknown vendor, 413 body too large, 415 not
a JSON content type, 401 authentication on the raw body, 400 not JSON, 422 invalid,
duplicate, then publish; 202 only once RabbitMQ confirmed every command. Nothing is
published for any other answer, and a delivery is remembered only after the confirm.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import BrokerUnavailable
from bridge.web.auth import AuthError
from bridge.web.state import WebState, state
from bridge.web.vendors import Vendor

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

#: Seconds a vendor is asked to wait after a 503.
RETRY_AFTER = 5


class Refusal(Exception):
    """An answer other than 202, with its status and body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@bp.post("/webhooks/<vendor>")
def receive(vendor: str) -> Response:
    web = state()
    known = web.vendors.get(vendor)
    try:
        status, body = _handle(web, known)
        headers: dict[str, str] = {}
    except Refusal as refusal:
        status, body, headers = refusal.status, refusal.body, refusal.headers
    web.metrics.webhooks.labels(vendor if known else "unknown", str(status)).inc()
    log.info("webhook vendor=%s status=%s event_id=%s", vendor if known else "?",
             status, body.get("event_id"))
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def _handle(web: WebState, vendor: Vendor | None) -> tuple[int, dict[str, Any]]:
    if vendor is None:
        raise Refusal(404, {"error": "unknown vendor"})
    raw = _read_body(web.settings.max_body)
    if not _is_json_type(request.mimetype):
        raise Refusal(415, {"error": "Content-Type must be application/json"})
    try:
        vendor.verifier.verify(dict(request.headers.items()), raw)
    except AuthError as exc:
        raise Refusal(401, {"error": f"not authenticated: {exc}"}) from None
    payload = _parse(raw)
    context = vendor.context(request.headers.get("webhook-id"))
    try:
        commands = vendor.adapter.translate(payload, context)
    except ValidationError as exc:
        raise Refusal(422, {"errors": exc.messages}) from None
    for zone in context.unknown_zones:
        web.metrics.unknown_zones.labels(vendor.name).inc()
        log.warning("vendor %s: zone %r is not in its zone map (passed through)", vendor.name, zone)
    if not commands:
        return 200, {"status": "ignored", "event_id": context.webhook_id}
    return _publish(web, vendor, commands, payload, context.webhook_id)


def _publish(web: WebState, vendor: Vendor, commands: list[dict[str, Any]], payload: Any,
             webhook_id: str | None) -> tuple[int, dict[str, Any]]:
    for command in commands:
        command.setdefault("event_id", str(uuid.uuid4()))
    answer = _event_ids(commands, webhook_id)
    keys = [(c["source"], c["event_id"]) for c in commands]
    seen = _seen(web, keys)
    if len(seen) == len(set(keys)):
        return vendor.duplicate_status, {"status": "duplicate", **answer}
    fresh = [c for c, key in zip(commands, keys, strict=True) if key not in seen]
    started = time.monotonic()
    try:
        web.publisher.publish_commands(fresh, original=payload, vendor=vendor.name,
                                       correlation_id=webhook_id)
    except BrokerUnavailable:
        log.warning("vendor %s: RabbitMQ did not confirm; answering 503", vendor.name)
        raise Refusal(503, {"error": "the message broker is unavailable; retry later"},
                      {"Retry-After": str(RETRY_AFTER)}) from None
    web.metrics.publish_seconds.observe(time.monotonic() - started)
    _remember(web, [k for k in keys if k not in seen])
    return 202, {"status": "accepted", **answer}


def _event_ids(commands: list[dict[str, Any]], webhook_id: str | None) -> dict[str, Any]:
    if len(commands) == 1:
        return {"event_id": commands[0]["event_id"]}
    ids = [c["event_id"] for c in commands]
    return {"event_id": webhook_id or ids[0], "event_ids": ids}


def _read_body(limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes (declared or actually sent)."""
    if (request.content_length or 0) > limit:
        raise Refusal(413, {"error": f"body larger than {limit} bytes"})
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise Refusal(413, {"error": f"body larger than {limit} bytes"})
    return raw


def _is_json_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json"))


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, {"error": "body is not valid JSON"}) from None


def _seen(web: WebState, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    try:
        return web.dedupe.seen(keys)
    except SQLAlchemyError:
        log.exception("dedupe look-up failed; answering 503")
        raise Refusal(503, {"error": "the database is unavailable; retry later"},
                      {"Retry-After": str(RETRY_AFTER)}) from None


def _remember(web: WebState, keys: list[tuple[str, str]]) -> None:
    try:
        web.dedupe.remember(keys)
    except SQLAlchemyError:
        # Already published: the worker's own event-id check stops a double push.
        log.exception("could not record accepted deliveries %s", [k[1] for k in keys])
