"""Helpers for pipeline tests: worker subprocesses, a pika publisher, ledger checks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.db import connect
from bridge.deadletters import DeadLetters

READY_LINE = "worker consuming"
#: Short retry schedule so tests see retries and exhaustion in seconds.
TEST_RETRY_DELAYS = "0.1,0.2,0.4,0.8,1,1,1,1,1,1"


def bridge_env(sim: Any, amqp_url: str, database_url: str, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))}
    return {**clean, "OPSCOM_BASE_URL": sim.base_url, "OPSCOM_API_TOKEN": sim.token,
            "OPSCOM_CLIENT_CODE": sim.client_code, "AMQP_URL": amqp_url,
            "DATABASE_URL": database_url, "BRIDGE_RETRY_DELAYS": TEST_RETRY_DELAYS,
            "BRIDGE_CIRCUIT_PROBE": "0.5", "OPSCOM_READ_TIMEOUT": "3",
            "BRIDGE_QUEUE_TYPE": os.environ.get("BRIDGE_TEST_QUEUE_TYPE", "classic"), **extra}


class WorkerProcess:
    """`opscom-bridge worker` as a real process; its log goes to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, metrics_port: int = 0) -> None:
        self.log_path = log_path
        self.metrics_port = metrics_port
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "worker", "--metrics-port", str(metrics_port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of this worker's /metrics samples of `name` with these labels."""
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return sum(float(sample.value)
                   for family in text_string_to_metric_families(text)
                   for sample in family.samples
                   if sample.name == name
                   and all(sample.labels.get(k) == v for k, v in labels.items()))

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in self.log():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def workers(env: dict[str, str], tmp_path: Path, count: int = 1,
            metrics: bool = False) -> Iterator[list[WorkerProcess]]:
    procs = [WorkerProcess(env, tmp_path / f"worker{i}.log", free_port() if metrics else 0)
             for i in range(count)]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


class IngressPublisher:
    """An enterprise system: pika, publisher confirms, routing key permit.<action>."""

    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def send(self, command: dict[str, Any] | bytes, action: str | None = None,
             content_type: str = "application/json", message_id: str | None = None) -> None:
        body = command if isinstance(command, bytes) else json.dumps(command).encode()
        if action is None and isinstance(command, dict):
            action = command.get("action", "create")
        props = pika.BasicProperties(content_type=content_type, delivery_mode=2,
                                     message_id=message_id)
        self.channel.basic_publish("opscom.ingress", f"permit.{action}", body, props,
                                   mandatory=True)

    def close(self) -> None:
        self.connection.close()


def dead_letters(database_url: str) -> list[dict[str, Any]]:
    items, _ = DeadLetters(connect(database_url)).list(limit=None)
    return items


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def applied_by_permit(ledger: list[dict[str, Any]]) -> dict[str, list[str]]:
    """permitNo -> ops OPS-COM applied, in ledger order (updates/deletes found by reference)."""
    by_ref: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for entry in ledger:
        if not entry.get("applied"):
            continue
        body = entry.get("body") or {}
        if entry["op"] == "push":
            permit = body.get("permitNo")
            by_ref[entry["reference_id"]] = permit
        else:
            permit = by_ref.get(entry.get("reference_id") or body.get("referenceID"), "?")
        found.setdefault(permit, []).append(entry["op"])
    return found


def permit_events(n: int, source: str = "erp") -> list[list[dict[str, Any]]]:
    """For each of n permits: create, update, update, delete (canonical commands)."""
    out = []
    for i in range(n):
        key = f"P{i:05d}"
        base = {"source": source, "source_id": key}
        out.append([
            {**base, "action": "create", "event_id": f"{key}-c", "plate": f"PL{i:05d}",
             "zone": "Lot 1", "permitNo": key, "amount": 5, "currency": "CAD",
             "startTime": "2026-11-22T10:00:00Z", "endTime": "2026-11-22T11:00:00Z"},
            {**base, "action": "update", "event_id": f"{key}-u1", "amount": "7.50",
             "endTime": "2026-11-22T12:00:00Z"},
            {**base, "action": "update", "event_id": f"{key}-u2", "amount": "9.00",
             "endTime": "2026-11-22T13:00:00+01:00"},
            {**base, "action": "delete", "event_id": f"{key}-d"},
        ])
    return out


def dead_queue_messages(amqp_url: str) -> list[dict[str, Any]]:
    """Everything on the opscom.dead queue (taken off it), as (headers, JSON body)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    found = []
    while True:
        method, props, body = channel.basic_get("opscom.dead", auto_ack=True)
        if method is None:
            break
        found.append({"headers": props.headers or {}, "body": json.loads(body)})
    connection.close()
    return found
