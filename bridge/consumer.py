"""The ingress consumer: enterprise messages on `opscom.ingress` into the work queues.

A valid command is published to the work queues (confirmed) and only then acked.
Anything that cannot become a command — not JSON, not UTF-8, wrong content type,
too large, unknown action, invalid fields — goes to the dead letters with its reason
and is acked: a poison message never loops.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from typing import Any

from kombu import Connection, Consumer, Queue
from kombu.message import Message
from marshmallow import ValidationError

from bridge import metrics
from bridge.db import connect
from bridge.deadletters import DeadLetters, publish_copy
from bridge.publisher import Publisher
from bridge.secret import redact_url_passwords
from bridge.settings import Settings
from bridge.topology import INGRESS, declare
from schemas.command import load_command

log = logging.getLogger(__name__)

#: Content types accepted on opscom.ingress (a missing type is read as JSON).
JSON_TYPES = frozenset({"application/json", ""})
ROUTING_ACTIONS = {"permit.create": "create", "permit.update": "update",
                   "permit.delete": "delete"}


class Poison(Exception):
    """This message can never become a command."""

    def __init__(self, reason: str, message: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


class IngressConsumer:
    def __init__(self, settings: Settings, publisher: Publisher) -> None:
        self.settings = settings
        self.publisher = publisher
        self.dead = DeadLetters(connect(settings.database_url.reveal()), settings.secrets())
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with Connection(self.settings.amqp_url.reveal(), heartbeat=30) as conn:
                    conn.ensure_connection(max_retries=None, interval_start=1, interval_max=5)
                    self._consume(conn)
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log.warning("ingress consumer: RabbitMQ connection lost (%s: %s); reconnecting",
                            type(exc).__name__, redact_url_passwords(str(exc)))
                time.sleep(1)

    def stop(self) -> None:
        self.stopping.set()

    def _consume(self, conn: Connection) -> None:
        declare(conn, self.settings)
        channel = conn.channel()
        channel.basic_qos(0, 64, False)
        consumer = Consumer(channel, queues=[Queue(INGRESS, no_declare=True)],
                            on_message=self.on_message)
        consumer.consume()
        log.info("ingress consumer on %s", INGRESS)
        while not self.stopping.is_set():
            try:
                conn.drain_events(timeout=0.5)
            except TimeoutError:
                conn.heartbeat_check()
        consumer.cancel()

    def on_message(self, message: Message) -> None:
        try:
            command, original = self.translate(message)
            self.publisher.publish_commands(
                [command], original=original, vendor=None,
                correlation_id=message.properties.get("correlation_id"))
            metrics.INGRESS.labels("forwarded").inc()
        except Poison as poison:
            if not self._dead_letter(message, poison):
                return
            metrics.INGRESS.labels("deadlettered").inc()
        except Exception as exc:
            log.warning("ingress: cannot forward now (%s); message requeued",
                        type(exc).__name__)
            time.sleep(1)
            message.requeue()
            return
        message.ack()

    def translate(self, message: Message) -> tuple[dict[str, Any], Any]:
        """(normalized command, message as received) or raise Poison."""
        body: bytes = message.body if isinstance(message.body, bytes) else bytes(
            message.body, "utf-8")
        received = _as_received(body)
        if len(body) > self.settings.max_body:
            raise Poison(f"message too large: {len(body)} bytes > {self.settings.max_body}",
                         received)
        content_type = (message.content_type or "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES:
            raise Poison(f"wrong content type {content_type!r}: only application/json",
                         received)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Poison(f"not UTF-8: {exc.reason} at byte {exc.start}", received) from None
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise Poison(f"not JSON: {exc}", received) from None
        if not isinstance(raw, dict):
            raise Poison("not a JSON object", raw)
        return self._command(raw, message), raw

    def _command(self, raw: dict[str, Any], message: Message) -> dict[str, Any]:
        routing_key = message.delivery_info.get("routing_key", "")
        default_action = ROUTING_ACTIONS.get(routing_key)
        if "event_id" not in raw:
            message_id = message.properties.get("message_id")
            raw = {**raw, "event_id": message_id or _body_digest(message.body)}
        try:
            return load_command(raw, default_action=default_action)
        except ValidationError as exc:
            errors = exc.messages
            raise Poison(f"invalid command: {json.dumps(errors, sort_keys=True)}", raw) from None

    def _dead_letter(self, message: Message, poison: Poison) -> bool:
        raw = poison.message if isinstance(poison.message, dict) else {}
        event_id = message.properties.get("message_id") or _body_digest(message.body)
        try:
            record = self.dead.record(
                reason=poison.reason, message=poison.message, command=None,
                source=str(raw.get("source") or "amqp")[:100], vendor=None,
                source_id=_str_or_none(raw.get("source_id")), event_id=event_id,
                action=_str_or_none(raw.get("action")) or ROUTING_ACTIONS.get(
                    message.delivery_info.get("routing_key", "")))
            publish_copy(self.publisher, record)
        except Exception as exc:
            log.warning("ingress: cannot dead-letter now (%s); message requeued",
                        type(exc).__name__)
            time.sleep(1)
            message.requeue()
            return False
        log.warning("ingress message dead-lettered: %s", record["reason"])
        return True


def _as_received(body: bytes) -> Any:
    """The message as received, storable as JSON whatever its bytes."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _body_digest(body: Any) -> str:
    data = body if isinstance(body, bytes) else str(body).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)[:200]
