"""The forwarding worker: consumes the partition queues and runs each permit in its lane.

Kombu's channel belongs to the main thread, so lanes never touch it: they hand their
finished deliveries back through a queue and the main loop acks them. A message is
acked only after its outcome is durable (applied, held, retried or dead-lettered);
if the worker dies first, RabbitMQ redelivers it and the store recognises it.
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from kombu import Connection
from kombu.message import Message

from bridge import metrics
from bridge.circuit import Circuit
from bridge.db import connect
from bridge.deadletters import DeadLetters
from bridge.forward import Forwarder
from bridge.lanes import Lanes
from bridge.opscom import OpsComClient, OutcomeKind
from bridge.partitions import Partitions
from bridge.publisher import Publisher
from bridge.retry import RetryPolicy
from bridge.secret import redact_url_passwords
from bridge.settings import Settings
from bridge.store import Store
from bridge.topology import (
    declare,
    message_properties,
    partition_for,
    permit_key,
    work_routing_key,
)

log = logging.getLogger(__name__)

#: Seconds between sweeps for permits whose held events a crash left behind.
SWEEP_INTERVAL = 30.0
#: Seconds between purges of applied event ids past their retention.
PURGE_INTERVAL = 3600.0
#: Backoff (seconds) when the database or broker fails under a lane.
INFRA_BACKOFF = (0.5, 1, 2, 5, 10, 30)


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        engine = connect(settings.database_url.reveal())
        self.store = Store(engine)
        self.publisher = Publisher(settings.amqp_url.reveal(), settings.partitions,
                                   confirm_timeout=10.0)
        self.client = OpsComClient.from_settings(settings)
        self.circuit = Circuit(settings.circuit_failures, settings.circuit_probe_interval,
                               self._probe, on_change=lambda o: metrics.CIRCUIT_OPEN.set(int(o)))
        policy = RetryPolicy(settings.retry_delays, settings.retry_jitter,
                             settings.retry_after_max)
        self.forwarder = Forwarder(self.store, DeadLetters(engine, settings.secrets()),
                                   self.client, self.publisher, policy, self.circuit,
                                   settings.partitions, settings.on_unknown_outcome)
        self.lanes = Lanes(settings.max_in_flight)
        self._done: queue.Queue[tuple[int, int, Message]] = queue.Queue()
        self._generation = 0
        self._next_purge = 0.0  # the first sweep purges, then hourly
        self.stopping = threading.Event()

    def _probe(self) -> bool:
        kind = self.client.stats().kind
        return kind in (OutcomeKind.SUCCESS, OutcomeKind.PERMANENT)

    # -- main loop ----------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped; reconnect to RabbitMQ whenever the connection drops."""
        while not self.stopping.is_set():
            try:
                with Connection(self.settings.amqp_url.reveal(), heartbeat=30) as conn:
                    conn.ensure_connection(max_retries=None, interval_start=1, interval_step=1,
                                           interval_max=5)
                    self._consume(conn)
            except (OSError, conn_errors()) as exc:
                if self.stopping.is_set():
                    break
                log.warning("RabbitMQ connection lost (%s: %s); reconnecting",
                            type(exc).__name__, redact_url_passwords(str(exc)))
                time.sleep(1)
        self._shutdown()

    def _consume(self, conn: Connection) -> None:
        declare(conn, self.settings)
        self._generation += 1
        generation = self._generation
        # Prefetch bounds what this worker holds unacked: lanes in flight plus a
        # little read-ahead, spread over the partitions (per consumer: quorum queues
        # have no channel-wide QoS). While the circuit is open nothing more is taken.
        per_partition = max(2, -(-self.settings.max_in_flight * 2 // self.settings.partitions))
        self.partitions = Partitions(conn, self.settings.partitions, per_partition,
                                     lambda m, p: self._on_message(m, p, generation),
                                     interval=self.settings.rebalance_interval)
        self.partitions.subscribe_all()
        log.info("worker consuming %d partitions (in flight <= %d)", self.settings.partitions,
                 self.settings.max_in_flight)
        next_sweep = time.monotonic() + SWEEP_INTERVAL
        while not self.stopping.is_set():
            try:
                conn.drain_events(timeout=0.05)
            except TimeoutError:
                conn.heartbeat_check()
            self._ack_finished(generation)
            self.partitions.tick()
            metrics.PARTITIONS_ACTIVE.set(len(self.partitions.active()))
            if time.monotonic() >= next_sweep:
                self._sweep()
                next_sweep = time.monotonic() + SWEEP_INTERVAL
        self.partitions.cancel_all()
        self.lanes.wait_idle(timeout=30)
        self._ack_finished(generation)

    def _on_message(self, message: Message, partition: int, generation: int) -> None:
        try:
            envelope = json.loads(message.body)
            key = _lane_key(envelope)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("malformed work message rejected to opscom.dead: %s", exc)
            message.reject(requeue=False)
            self.partitions.finished(partition)
            return
        self.lanes.submit(key, lambda: self._run_job(envelope, message, partition, generation))

    def _run_job(self, envelope: dict[str, Any], message: Message, partition: int,
                 generation: int) -> None:
        metrics.IN_FLIGHT.set(self.lanes.busy())
        for attempt, delay in enumerate((*INFRA_BACKOFF, *([30.0] * 1000))):
            try:
                if "kick" in envelope:
                    self.forwarder.drain(*envelope["kick"])
                else:
                    self.forwarder.handle(envelope)
                break
            except Exception as exc:
                if self.stopping.is_set() or generation != self._generation:
                    return  # not acked: RabbitMQ redelivers it to whoever consumes next
                log.warning("infrastructure error handling a work message (try %d): %s",
                            attempt + 1, type(exc).__name__, exc_info=attempt == 0)
                time.sleep(delay)
        self._done.put((generation, partition, message))

    def _ack_finished(self, generation: int) -> None:
        while True:
            try:
                gen, partition, message = self._done.get_nowait()
            except queue.Empty:
                return
            if gen == generation:
                message.ack()
                self.partitions.finished(partition)

    def _sweep(self) -> None:
        """Publish a 'kick' for permits whose held events nobody is draining; purge old ids."""
        try:
            stale = self.store.stale_held_permits()
            purged = 0
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_INTERVAL
                purged = self.store.purge_applied(
                    timedelta(days=self.settings.event_retention_days))
        except Exception:
            log.exception("sweep for held events failed")
            return
        if purged:
            log.info("forgot %d applied event ids older than %d days", purged,
                     self.settings.event_retention_days)
        for source, source_id in stale:
            cmd = {"source": source, "source_id": source_id}
            partition = partition_for(permit_key(cmd), self.settings.partitions)
            body = json.dumps({"kick": [source, source_id], "command": cmd}).encode()
            props = message_properties(f"kick:{uuid.uuid4()}")
            self.publisher.publish_raw([("opscom.work", work_routing_key(partition), body,
                                         props)])

    def stop(self, *_args: Any) -> None:
        self.stopping.set()
        self.forwarder.stopping.set()
        self.circuit.stop()  # lanes waiting on an open circuit give up (unacked)

    def _shutdown(self) -> None:
        self.circuit.stop()
        self.lanes.shutdown()
        self.publisher.close()


def conn_errors() -> type[BaseException]:
    """The connection error class kombu's transport raises (recoverable)."""
    from amqp.exceptions import ConnectionError as AmqpConnectionError

    return AmqpConnectionError


def _lane_key(envelope: dict[str, Any]) -> str:
    if "kick" in envelope:
        source, source_id = envelope["kick"]
        return permit_key({"source": source, "source_id": source_id})
    return permit_key(envelope["command"])


def run_worker(settings: Settings) -> int:
    """`opscom-bridge worker`: the ingress consumer and the forwarding worker."""
    from bridge.consumer import IngressConsumer

    worker = Worker(settings)
    ingress = IngressConsumer(settings, worker.publisher)

    def stop(*_args: Any) -> None:
        worker.stop()
        ingress.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    thread = threading.Thread(target=ingress.run, name="ingress", daemon=True)
    thread.start()
    worker.run()
    thread.join(timeout=10)
    return 0
