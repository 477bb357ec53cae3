"""Confirmed publishing for request threads: one connection, one I/O thread, pipelined.

Request threads hand messages to the I/O thread and wait for RabbitMQ's confirms;
while they wait, others publish on the same channel, so concurrent requests share
round trips instead of each paying one. A message counts as published only when
the broker acked it *and* did not return it as unroutable (`mandatory`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from bridge.errors import BrokerUnavailable
from bridge.secret import redact_url_passwords
from bridge.topology import work_message

log = logging.getLogger(__name__)

#: Seconds between reconnection attempts while RabbitMQ is unreachable.
RECONNECT_DELAY = 1.0
_ID_HEADER = "x-opscom-publish-id"


class _Pending:
    """One message waiting for its confirm."""

    __slots__ = ("future", "returned")

    def __init__(self) -> None:
        self.future: Future[None] = Future()
        self.returned = False


class Publisher:
    """Thread-safe confirmed publisher (pika SelectConnection in a daemon thread)."""

    def __init__(self, amqp_url: str, partitions: int = 8, confirm_timeout: float = 2.0) -> None:
        self._params = pika.URLParameters(amqp_url)
        self._params.heartbeat = 30
        self._params.blocked_connection_timeout = 30
        self._display_url = redact_url_passwords(amqp_url)
        self.partitions = partitions
        self.confirm_timeout = confirm_timeout
        self._connection: SelectConnection | None = None
        self._channel: Any = None
        self._next_tag = 0
        self._by_tag: dict[int, _Pending] = {}
        self._by_id: dict[str, _Pending] = {}
        self._ready = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="amqp-publisher", daemon=True)
        self._thread.start()

    # -- API for request threads -------------------------------------------------
    def publish_commands(
        self, commands: list[dict[str, Any]], *, original: Any = None,
        vendor: str | None = None, correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish normalized commands to the work queues; return once all are confirmed.

        `original` is the message as received (kept for the dead letters). Raises
        BrokerUnavailable when any message is not confirmed within confirm_timeout.
        """
        messages = [work_message(c, self.partitions, original=original, vendor=vendor,
                                 correlation_id=correlation_id, headers=headers)
                    for c in commands]
        self.publish_raw([("opscom.work", rk, body, props) for rk, body, props in messages])

    def publish_raw(self, messages: list[tuple[str, str, bytes, dict[str, Any]]]) -> None:
        """Publish (exchange, routing key, body, properties) tuples, all confirmed or raise."""
        deadline = time.monotonic() + self.confirm_timeout
        if not self._ready.wait(max(0.0, deadline - time.monotonic())):
            raise BrokerUnavailable(f"RabbitMQ at {self._display_url} is not connected")
        pendings = [_Pending() for _ in messages]
        self._call(lambda: self._publish_batch(messages, pendings))
        for pending in pendings:
            try:
                pending.future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                raise BrokerUnavailable("RabbitMQ did not confirm in time") from None
            except BrokerUnavailable:
                raise

    def ping(self) -> bool:
        """True when the connection and channel are open."""
        return self._ready.is_set()

    def close(self) -> None:
        self._closing = True
        conn = self._connection
        if conn is not None and conn.is_open:
            self._call(conn.close)
        self._thread.join(timeout=5)

    # -- I/O thread ---------------------------------------------------------------
    def _call(self, fn: Callable[[], None]) -> None:
        conn = self._connection
        if conn is None:
            raise BrokerUnavailable("RabbitMQ is not connected")
        try:
            conn.ioloop.add_callback_threadsafe(fn)
        except Exception as exc:  # the loop is closing
            raise BrokerUnavailable("RabbitMQ connection is closing") from exc

    def _run(self) -> None:
        while not self._closing:
            self._connection = SelectConnection(
                self._params, on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error, on_close_callback=self._on_closed)
            try:
                self._connection.ioloop.start()
            except Exception:  # pragma: no cover - defensive: keep the thread alive
                log.exception("publisher I/O loop failed")
            self._fail_all("connection to RabbitMQ lost")
            if not self._closing:
                time.sleep(RECONNECT_DELAY)

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Any) -> None:
        self._channel = channel
        self._next_tag = 0
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm,
                                 callback=lambda _frame: self._on_confirm_mode())

    def _on_confirm_mode(self) -> None:
        log.info("publisher connected to %s", self._display_url)
        self._ready.set()

    def _on_open_error(self, connection: SelectConnection, error: Exception | str) -> None:
        log.warning("cannot connect to RabbitMQ at %s: %s", self._display_url,
                    redact_url_passwords(str(error)))
        connection.ioloop.stop()

    def _on_closed(self, connection: SelectConnection, reason: Exception) -> None:
        self._ready.clear()
        if not self._closing:
            log.warning("RabbitMQ connection closed: %s", redact_url_passwords(str(reason)))
        connection.ioloop.stop()

    def _on_channel_closed(self, channel: Any, reason: Exception) -> None:
        self._ready.clear()
        self._fail_all(f"channel closed: {reason}")
        conn = self._connection
        if conn is not None and conn.is_open and not self._closing:
            conn.close()

    def _publish_batch(self, messages: list[tuple[str, str, bytes, dict[str, Any]]],
                       pendings: list[_Pending]) -> None:
        channel = self._channel
        for (exchange, routing_key, body, props), pending in zip(messages, pendings, strict=True):
            if channel is None or not channel.is_open:
                pending.future.set_exception(BrokerUnavailable("RabbitMQ channel is not open"))
                continue
            publish_id = uuid.uuid4().hex
            headers = {**(props.get("headers") or {}), _ID_HEADER: publish_id}
            properties = pika.BasicProperties(**{**props, "headers": headers})
            self._next_tag += 1
            self._by_tag[self._next_tag] = pending
            self._by_id[publish_id] = pending
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)

    def _on_return(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        publish_id = (properties.headers or {}).get(_ID_HEADER)
        pending = self._by_id.get(publish_id) if publish_id else None
        if pending is not None:
            pending.returned = True

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        ok = isinstance(method, Basic.Ack)
        tags = [t for t in self._by_tag if t <= method.delivery_tag] if method.multiple else [
            method.delivery_tag]
        for tag in tags:
            pending = self._by_tag.pop(tag, None)
            if pending is None:
                continue
            self._forget(pending)
            if ok and not pending.returned:
                pending.future.set_result(None)
            else:
                reason = "could not route" if pending.returned else "rejected (nack)"
                pending.future.set_exception(BrokerUnavailable(f"RabbitMQ {reason} the message"))

    def _forget(self, pending: _Pending) -> None:
        for key, value in list(self._by_id.items()):
            if value is pending:
                del self._by_id[key]
                break

    def _fail_all(self, reason: str) -> None:
        pendings = list(self._by_tag.values())
        self._by_tag.clear()
        self._by_id.clear()
        for pending in pendings:
            if not pending.future.done():
                pending.future.set_exception(BrokerUnavailable(reason))
