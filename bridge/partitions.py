"""This worker's subscriptions to the partition queues, and how they are shared out.

Every worker subscribes to every partition; single active consumer lets one of them
receive each partition's messages at a time (the others stand by, so a crash fails
over at once). The broker makes the *first* subscriber active everywhere, so a worker
active on more than its share (partitions / workers) hands the extras on: it stops
starting their messages, waits for the ones in flight, then closes that partition's
channel. Closing requeues what it had not started *before* the next consumer is made
active, so nothing of one permit overtakes anything else, and re-subscribes at the
back of the line.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from kombu import Connection, Consumer, Queue
from kombu.message import Message

from bridge.topology import PRESENCE_QUEUE, WORK_QUEUE_PREFIX

log = logging.getLogger(__name__)

#: A partition counts as this worker's when it delivered something within this many
#: rebalance intervals.
ACTIVE_INTERVALS = 2


class Partitions:
    def __init__(self, conn: Connection, partitions: int, prefetch: int,
                 on_message: Callable[[Message, int], None], interval: float = 5.0) -> None:
        self.conn = conn
        self.count = partitions
        self.prefetch = prefetch
        self.on_message = on_message
        self.subs: dict[int, tuple[Any, Consumer]] = {}
        self.last_delivery: dict[int, float] = {}
        self.running: Counter[int] = Counter()
        self.draining: dict[int, list[Message]] = {}
        self.interval = interval
        self.next_check = time.monotonic() + interval

    def subscribe_all(self) -> None:
        presence = Consumer(self.conn.channel(), queues=[Queue(PRESENCE_QUEUE, no_declare=True)],
                            on_message=lambda m: m.ack())
        presence.consume()  # counted by the other workers; nothing is ever delivered
        start = random.randrange(self.count)  # replicas starting together spread out
        for n in range(self.count):
            self._subscribe((start + n) % self.count)

    def finished(self, partition: int) -> None:
        """A message of `partition` was acked or rejected."""
        self.running[partition] -= 1

    def tick(self) -> None:
        """Called from the consuming loop: hand over drained partitions, rebalance."""
        for partition in [p for p in self.draining if self.running[p] <= 0]:
            self._hand_over(partition)
        if time.monotonic() >= self.next_check:
            self.next_check = time.monotonic() + self.interval
            self._rebalance()

    def active(self) -> list[int]:
        now = time.monotonic()
        return sorted(p for p, t in self.last_delivery.items()
                      if now - t < self.interval * ACTIVE_INTERVALS and p not in self.draining)

    def cancel_all(self) -> None:
        for _channel, consumer in self.subs.values():
            consumer.cancel()

    def _subscribe(self, partition: int) -> None:
        channel = self.conn.channel()
        channel.basic_qos(0, self.prefetch, False)
        queue = Queue(f"{WORK_QUEUE_PREFIX}{partition}", no_declare=True)
        consumer = Consumer(channel, queues=[queue],
                            on_message=lambda m, p=partition: self._deliver(p, m))
        consumer.consume()
        self.subs[partition] = (channel, consumer)

    def _deliver(self, partition: int, message: Message) -> None:
        self.last_delivery[partition] = time.monotonic()
        if partition in self.draining:
            self.draining[partition].append(message)  # not started: requeued on hand-over
            return
        self.running[partition] += 1
        self.on_message(message, partition)

    def _hand_over(self, partition: int) -> None:
        channel, _consumer = self.subs.pop(partition)
        held = len(self.draining.pop(partition))
        channel.close()  # requeues the unstarted messages, then the next consumer is active
        self.last_delivery.pop(partition, None)
        self._subscribe(partition)
        log.info("handed partition %d to another worker (%d messages requeued)", partition,
                 held)

    def _rebalance(self) -> None:
        workers = self._workers()
        if workers <= 1:
            return
        share = math.ceil(self.count / workers)
        active = self.active()
        for partition in active[share:]:
            self.draining[partition] = []
        if len(active) > share:
            log.info("active on %d partitions, share is %d of %d for %d workers; handing "
                     "over %s", len(active), share, self.count, workers, active[share:])

    def _workers(self) -> int:
        """How many workers there are (each subscribes to the presence queue)."""
        try:
            ok = self.conn.default_channel.queue_declare(queue=PRESENCE_QUEUE, passive=True)
            return int(ok.consumer_count)
        except Exception as exc:  # a look-up failing must not stop consuming
            log.warning("cannot count workers: %s", type(exc).__name__)
            return 1
