"""RabbitMQ names and declarations: what exists, and why each argument is there.

Public names (DESIGN.md): `opscom.ingress` (topic exchange + queue bound `permit.#`)
and `opscom.dead` (fanout exchange + queue). The rest is the bridge's own:
`opscom.work` (direct exchange) with one queue per partition, and one retry tier
(fanout exchange + queue) per delay of the retry schedule.
"""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kombu import Connection, Exchange, Queue

from bridge.settings import Settings

INGRESS = "opscom.ingress"
DEAD = "opscom.dead"
WORK_EXCHANGE = "opscom.work"
WORK_QUEUE_PREFIX = "opscom.work."
#: Every worker subscribes here (nothing is ever published): its consumer count is the
#: number of workers. A classic queue whatever BRIDGE_QUEUE_TYPE, because a quorum
#: queue with single active consumer counts only the active one.
PRESENCE_QUEUE = "opscom.workers"
RETRY_PREFIX = "opscom.retry."
#: Header naming the partition a message belongs to (for logs and replays).
PARTITION_HEADER = "x-opscom-partition"


@dataclass(frozen=True)
class Topology:
    """Every exchange and queue of one configuration, ready to declare."""

    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]


def permit_key(command: dict[str, Any]) -> str:
    """The key that orders a permit's events: (source, source_id), else its reference."""
    if command.get("source_id"):
        return f"{command['source']}\x1f{command['source_id']}"
    return f"ref\x1f{command.get('referenceID', '')}"


def partition_for(key: str, partitions: int) -> int:
    """A stable partition for a permit key (crc32: the same in every process and run)."""
    return zlib.crc32(key.encode("utf-8")) % partitions


def work_routing_key(partition: int) -> str:
    return f"p.{partition}"


def retry_queue_name(delay: float) -> str:
    return f"{RETRY_PREFIX}{_seconds_label(delay)}"


def _seconds_label(delay: float) -> str:
    return f"{int(delay)}s" if float(delay).is_integer() else f"{delay:g}s"


def build(settings: Settings) -> Topology:
    """The declarations for `settings` (queue type, partitions, retry tiers)."""
    ingress_x = Exchange(INGRESS, type="topic", durable=True)
    dead_x = Exchange(DEAD, type="fanout", durable=True)
    work_x = Exchange(WORK_EXCHANGE, type="direct", durable=True)
    queues = [
        # Ingress: anything RabbitMQ itself gives up on (quorum delivery limit,
        # a reject without requeue) still reaches opscom.dead rather than vanishing.
        Queue(INGRESS, ingress_x, routing_key="permit.#", durable=True,
              queue_arguments=_args(settings, {
                  # One ingress consumer at a time across all worker replicas: two
                  # consumers would race one permit's create and update into the
                  # work queues out of order. Validation and republishing are cheap.
                  "x-single-active-consumer": True,
                  "x-dead-letter-exchange": DEAD,
              })),
        Queue(DEAD, dead_x, routing_key="", durable=True,
              queue_arguments=_args(settings, {})),
    ]
    for n in range(settings.partitions):
        queues.append(Queue(
            f"{WORK_QUEUE_PREFIX}{n}", work_x, routing_key=work_routing_key(n), durable=True,
            queue_arguments=_args(settings, {
                # One consumer at a time per partition: several worker replicas can
                # run and each permit's events are still handled in queue order.
                "x-single-active-consumer": True,
                # A message the worker rejects outright still lands in the dead letters.
                "x-dead-letter-exchange": DEAD,
            }),
        ))
    queues.append(Queue(PRESENCE_QUEUE, durable=True))
    retry_exchanges = []
    for delay in sorted(set(settings.retry_delays)):
        name = retry_queue_name(delay)
        exchange = Exchange(name, type="fanout", durable=True)
        retry_exchanges.append(exchange)
        ttl_ms = int(delay * (1 + settings.retry_jitter) * 1000) + 1
        queues.append(Queue(name, exchange, routing_key="", durable=True, queue_arguments=_args(
            settings, {
                # Upper bound of the wait; each message's own expiration adds jitter.
                "x-message-ttl": ttl_ms,
                # When the wait is over the message goes back to the work exchange
                # with its original routing key p.<n>: the same partition as before.
                "x-dead-letter-exchange": WORK_EXCHANGE,
            }, retry=True)))
    exchanges = (ingress_x, dead_x, work_x, *retry_exchanges)
    return Topology(exchanges=exchanges, queues=tuple(queues))


def _args(settings: Settings, extra: dict[str, Any], retry: bool = False) -> dict[str, Any]:
    args = dict(extra)
    if settings.queue_type == "quorum":
        args["x-queue-type"] = "quorum"
        if "x-dead-letter-exchange" in args:
            # Quorum queues can dead-letter at-least-once (not the default at-most-once),
            # which needs reject-publish overflow: no message is lost on the way.
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
    return args


def declare(connection: Connection, settings: Settings) -> Topology:
    """Declare everything (idempotent: re-declaring the same thing is a no-op)."""
    topology = build(settings)
    channel = connection.default_channel
    for exchange in topology.exchanges:
        exchange(channel).declare()
    for queue in topology.queues:
        queue(channel).declare()
    return topology


def describe(topology: Topology) -> list[dict[str, Any]]:
    """A printable list of what `declare` made."""
    rows: list[dict[str, Any]] = [
        {"kind": "exchange", "name": x.name, "type": x.type} for x in topology.exchanges
    ]
    for q in topology.queues:
        exchange = q.exchange.name if q.exchange is not None else ""
        rows.append({"kind": "queue", "name": q.name, "bound_to": exchange,
                     "routing_key": q.routing_key,
                     "arguments": getattr(q, "queue_arguments", None) or {}})
    return rows


def work_message(
    command: dict[str, Any], settings_partitions: int, *, original: Any = None,
    vendor: str | None = None, correlation_id: str | None = None,
    headers: dict[str, Any] | None = None,
) -> tuple[str, bytes, dict[str, Any]]:
    """(routing key, body, AMQP properties) of the work message for one command.

    The body is an envelope: the normalized command, the message as received (for
    the dead letters) and who sent it.
    """
    event_id = command.get("event_id") or str(uuid.uuid4())
    command = {**command, "event_id": event_id}
    partition = partition_for(permit_key(command), settings_partitions)
    envelope = {"command": command, "message": original, "vendor": vendor,
                "received_at": datetime.now(UTC).isoformat()}
    properties = message_properties(event_id, correlation_id,
                                    {PARTITION_HEADER: partition, **(headers or {})})
    body = json.dumps(envelope, separators=(",", ":"), default=str).encode("utf-8")
    return work_routing_key(partition), body, properties


def message_properties(message_id: str, correlation_id: str | None = None,
                       headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """The AMQP properties of every message the bridge publishes (persistent JSON)."""
    return {
        "message_id": message_id,
        "correlation_id": correlation_id or message_id,
        "content_type": "application/json",
        "timestamp": int(datetime.now(UTC).timestamp()),
        "delivery_mode": 2,
        "headers": headers or {},
    }
