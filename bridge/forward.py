"""The forwarding decision for one work message: send, hold, retry or dead-letter.

Called inside a permit's lane, so one permit is never handled twice at once; with
single active consumer per partition, no other worker handles it either. Every
decision is made durable (database, confirmed publish) before the message is acked.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bridge import metrics
from bridge.circuit import Circuit
from bridge.deadletters import DeadLetters, publish_copy
from bridge.opscom import OpsComClient, Outcome, OutcomeKind
from bridge.publisher import Publisher
from bridge.retry import RetryPolicy
from bridge.store import State, Store
from bridge.topology import retry_queue_name, work_message
from schemas.opscom import OP_FOR_ACTION, build_request, dropped_fields

log = logging.getLogger(__name__)

#: Outcomes that may succeed if the same request is sent again later.
TRANSIENT_KINDS = frozenset({OutcomeKind.NOT_SENT, OutcomeKind.TRANSIENT,
                             OutcomeKind.THROTTLED, OutcomeKind.UNKNOWN})
#: Seconds between tries to record an answer OPS-COM already gave (about 10 min in all).
RECORD_BACKOFF = (0.2, 0.5, 1, 2, 5, 10, *([30.0] * 20))
#: OPS-COM's "Record not found": after an unknown-outcome delete it means "already deleted".
RECORD_NOT_FOUND = 9009


class Stopping(Exception):
    """The worker is stopping: leave the message unacked for redelivery."""


class Forwarder:
    def __init__(self, store: Store, dead: DeadLetters, client: OpsComClient,
                 publisher: Publisher, policy: RetryPolicy, circuit: Circuit,
                 partitions: int, on_unknown_outcome: str = "deadletter") -> None:
        self.store, self.dead, self.client = store, dead, client
        self.publisher, self.policy, self.circuit = publisher, policy, circuit
        self.partitions = partitions
        self.on_unknown_outcome = on_unknown_outcome
        #: Set when the worker stops: recording gives up and the message is redelivered.
        self.stopping = threading.Event()

    # -- entry points -------------------------------------------------------------
    def handle(self, envelope: dict[str, Any]) -> None:
        """One work message from RabbitMQ (a new event, a retry, a replay)."""
        cmd = envelope["command"]
        state = self.store.state(cmd)
        if self._already_done(envelope, state):
            return
        if not cmd.get("source_id"):
            if not self._too_early(envelope):
                self._attempt(envelope, state)
            return
        waiting = state.waiting_on
        if waiting and waiting != cmd["event_id"]:
            self.store.hold(cmd, envelope)
            metrics.EVENTS.labels(cmd["action"], "held").inc()
            return
        if waiting == cmd["event_id"] and self._too_early(envelope):
            return
        if waiting != cmd["event_id"] and state.has_held:
            self.store.hold(cmd, envelope)  # older events are still held: queue behind them
        else:
            self._attempt(envelope, state)
        if state.has_held or waiting:
            # Only while a permit waits are events held, so only then can any be left.
            self.drain(cmd["source"], cmd["source_id"])

    def drain(self, source: str, source_id: str) -> None:
        """Send this permit's held events, oldest first, until one has to wait."""
        while True:
            permit = self.store.permit(source, source_id)
            if permit is None or permit["waiting_on"]:
                return
            held = self.store.held(source, source_id)
            if not held:
                return
            self._attempt(held[0], self.store.state(held[0]["command"]))

    # -- one attempt --------------------------------------------------------------
    def _already_done(self, envelope: dict[str, Any], state: State) -> bool:
        cmd = envelope["command"]
        if state.event_status == "applied":
            log.info("event %s of %s already applied; not sent again", cmd["event_id"],
                     cmd["source"])
            metrics.EVENTS.labels(cmd["action"], "duplicate").inc()
            return True
        if state.event_status == "deadlettered" and not envelope.get("replay"):
            log.info("event %s of %s is in the dead letters; replay it from there",
                     cmd["event_id"], cmd["source"])
            return True
        return False

    def _attempt(self, envelope: dict[str, Any], state: State) -> None:
        cmd = envelope["command"]
        if state.blocked_by and state.blocked_by != cmd["event_id"]:
            self._dead(envelope, f"blocked by {state.blocked_by}", block=False)
            return
        reference, problem = self._reference(cmd, state.permit)
        if problem:
            self._dead(envelope, problem, block=False)
            return
        unknown_before = state.event_status == "sending"
        if unknown_before and cmd["action"] == "create" and self._deadletter_unknown():
            self._unknown(envelope, "a previous attempt was interrupted after sending")
            return
        self.circuit.wait_closed()
        if self.stopping.is_set():
            raise Stopping("worker stopping: not sent, the message will be redelivered")
        outcome = self._send(cmd, reference, state)
        envelope.setdefault("attempts", []).append(_attempt_record(outcome))
        # OPS-COM has answered: from here on only the recording may be repeated, never
        # the call, or a database or broker hiccup would send the same request twice.
        self._durably(lambda: self._settle(envelope, outcome, unknown_before))

    def _durably(self, record: Callable[[], None]) -> None:
        """Run `record` until it succeeds (idempotent steps), backing off, unless stopping."""
        for delay in RECORD_BACKOFF:
            try:
                record()
                return
            except Exception as exc:
                if self.stopping.is_set():
                    raise
                log.warning("cannot record an OPS-COM answer yet (%s); trying again in %.1fs",
                            type(exc).__name__, delay)
                self.stopping.wait(delay)
        record()

    def _reference(self, cmd: dict[str, Any], permit: Any) -> tuple[str | None, str | None]:
        """(reference id to address, or a dead-letter reason)."""
        if cmd["action"] == "create":
            if permit is not None and permit["reference_id"]:
                return None, f"duplicate create: permit already exists as {permit['reference_id']}"
            return None, None
        if cmd.get("referenceID"):
            return cmd["referenceID"], None
        if permit is None or not permit["reference_id"]:
            return None, "unknown permit: no create for this source_id was applied"
        return permit["reference_id"], None

    def _send(self, cmd: dict[str, Any], reference: str | None, state: State) -> Outcome:
        op = OP_FOR_ACTION[cmd["action"]]
        lost = dropped_fields(op, cmd)
        if lost:
            log.info("%s of %s/%s cannot change %s; ignored", op, cmd["source"],
                     cmd.get("source_id"), ", ".join(lost))
        body = build_request(op, cmd, "", reference_id=reference)
        body.pop("apiToken", None)
        self.store.begin(cmd, state)
        with metrics.OPSCOM_LATENCY.labels(op).time():
            outcome: Outcome = getattr(self.client, op)(body)
        metrics.OPSCOM_CALLS.labels(op, outcome.kind.value).inc()
        return outcome

    def _settle(self, envelope: dict[str, Any], outcome: Outcome, unknown_before: bool) -> None:
        cmd = envelope["command"]
        kind = outcome.kind
        if kind is not OutcomeKind.PERMANENT and kind not in TRANSIENT_KINDS:
            self.circuit.success()
            self.store.applied(cmd, outcome.reference_id)
            metrics.EVENTS.labels(cmd["action"], "applied").inc()
            return
        if kind is OutcomeKind.PERMANENT:
            self.circuit.success()  # OPS-COM answered: it is up
            if self._deleted_already(envelope, outcome, unknown_before):
                self.store.applied(cmd, None)
                metrics.EVENTS.labels(cmd["action"], "applied").inc()
                return
            self._dead(envelope, _permanent_reason(outcome), error_code=outcome.error_code)
            return
        self.circuit.failure()
        if kind is OutcomeKind.UNKNOWN and cmd["action"] == "create" \
                and self._deadletter_unknown():
            self._unknown(envelope, outcome.describe())
            return
        self._retry(envelope, outcome)

    def _deleted_already(self, envelope: dict[str, Any], outcome: Outcome,
                         unknown_before: bool) -> bool:
        if envelope["command"]["action"] != "delete" or outcome.error_code != RECORD_NOT_FOUND:
            return False
        earlier = envelope.get("attempts", [])[:-1]
        return unknown_before or any(a.get("kind") == OutcomeKind.UNKNOWN.value for a in earlier)

    def _deadletter_unknown(self) -> bool:
        return self.on_unknown_outcome == "deadletter"

    def _unknown(self, envelope: dict[str, Any], detail: str) -> None:
        cmd = envelope["command"]
        metrics.UNKNOWN_OUTCOMES.labels(cmd["action"]).inc()
        log.warning("create %s of %s/%s: outcome unknown (%s); dead-lettered so it is not "
                    "pushed twice; check OPS-COM, then replay or adopt its reference",
                    cmd["event_id"], cmd["source"], cmd.get("source_id"), detail)
        self._dead(envelope, f"outcome unknown: {detail}")

    # -- retry and dead letters ---------------------------------------------------
    def _retry(self, envelope: dict[str, Any], outcome: Outcome) -> None:
        cmd = envelope["command"]
        failures = sum(1 for a in envelope["attempts"] if a.get("kind") in _TRANSIENT_VALUES)
        if self.policy.exhausted(failures):
            self._dead(envelope, f"retries exhausted after {failures} attempts: "
                                 f"{outcome.describe()}", error_code=outcome.error_code)
            return
        wait = self.policy.wait_for(failures, outcome.retry_after)
        envelope["not_before"] = time.time() + wait
        self.store.retrying(cmd)
        self._delay(envelope, wait)
        metrics.EVENTS.labels(cmd["action"], "retried").inc()
        log.info("%s %s of %s/%s: %s; retry %d in %.1fs", cmd["action"], cmd["event_id"],
                 cmd["source"], cmd.get("source_id"), outcome.describe(), failures, wait)

    def _delay(self, envelope: dict[str, Any], wait: float) -> None:
        """Send the message on a trip through a retry tier; back in its partition after."""
        cmd = envelope["command"]
        tier, expiration_ms = self.policy.tier_for(wait)
        routing_key, body, props = work_message(
            cmd, self.partitions, original=envelope.get("message"), vendor=envelope.get("vendor"),
            headers={"x-opscom-attempt": len(envelope.get("attempts", []))})
        payload = {**json.loads(body), "attempts": envelope.get("attempts", []),
                   "received_at": envelope.get("received_at"),
                   "not_before": envelope.get("not_before")}
        props["expiration"] = str(expiration_ms)
        self.publisher.publish_raw([(retry_queue_name(tier), routing_key,
                                     json.dumps(payload).encode(), props)])

    def _too_early(self, envelope: dict[str, Any]) -> bool:
        """A retry back before its time (a wait longer than the longest tier): send it round."""
        remaining = (envelope.get("not_before") or 0) - time.time()
        if remaining <= 0.05:
            return False
        self._delay(envelope, remaining)
        return True

    def _dead(self, envelope: dict[str, Any], reason: str, error_code: int | None = None,
              block: bool = True) -> None:
        cmd = envelope["command"]
        record = self.dead.record(
            reason=reason, error_code=error_code, vendor=envelope.get("vendor"),
            source=cmd.get("source"), source_id=cmd.get("source_id"),
            event_id=cmd.get("event_id"), action=cmd.get("action"),
            attempts=envelope.get("attempts", []), message=envelope.get("message"),
            command=cmd)
        self.store.deadlettered(cmd, block=block)
        self.publish_dead(record)
        metrics.EVENTS.labels(cmd["action"], "deadlettered").inc()
        log.warning("%s %s of %s/%s dead-lettered: %s", cmd["action"], cmd["event_id"],
                    cmd["source"], cmd.get("source_id"), record["reason"])

    def publish_dead(self, record: dict[str, Any]) -> None:
        publish_copy(self.publisher, record)


_TRANSIENT_VALUES = frozenset(k.value for k in TRANSIENT_KINDS)


def _attempt_record(outcome: Outcome) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(), "kind": outcome.kind.value,
            "http_status": outcome.http_status, "error_code": outcome.error_code,
            "error_message": outcome.error_message, "exception": outcome.exception,
            "retry_after": outcome.retry_after}


def _permanent_reason(outcome: Outcome) -> str:
    if outcome.error_code is not None:
        return f"OPS-COM error {outcome.error_code}: {outcome.error_message}"
    return f"OPS-COM refused the request: {outcome.describe()}"
