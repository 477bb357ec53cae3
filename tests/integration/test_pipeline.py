"""The forwarding pipeline on the real RabbitMQ, the simulator over HTTP, real worker processes.

Given/When/Then: enterprise messages go into opscom.ingress with pika; the workers
forward them; the simulator's ledger says what OPS-COM applied, in which order.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from tests.integration.pipeline import (
    IngressPublisher,
    applied_by_permit,
    bridge_env,
    dead_letters,
    permit_events,
    wait_for,
    workers,
)

pytestmark = pytest.mark.integration


def publish_concurrently(amqp_url: str, permits: list[list[dict]], threads: int = 8) -> None:
    """Each thread owns some permits and sends each permit's events in order."""
    def send(chunk: list[list[dict]]) -> None:
        publisher = IngressPublisher(amqp_url)
        try:
            for step in range(4):
                for events in chunk:
                    publisher.send(events[step], message_id=events[step]["event_id"])
        finally:
            publisher.close()

    chunks = [permits[i::threads] for i in range(threads)]
    pool = [threading.Thread(target=send, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)


def all_deleted(sim, count: int):
    def check():
        applied = applied_by_permit(sim.ledger())
        done = [p for p, ops in applied.items() if ops and ops[-1] == "delete"]
        return applied if len(done) >= count else None
    return check


def test_200_permits_in_order_with_transient_failures_and_3_workers(
        sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM at 20 ms latency failing 20% of requests transiently, 3 workers
    sim.faults(latency_ms=20, error_rate=0.2, error_kind="503")
    env = bridge_env(sim, amqp_url, database_url)
    permits = permit_events(200)
    with workers(env, tmp_path, count=3):
        # When: 200 permits x (create, update, update, delete) are published concurrently
        publish_concurrently(amqp_url, permits)
        applied = wait_for(all_deleted(sim, 200), timeout=120, what="200 permits deleted")
    # Then: each permit in order, exactly 200 pushes, no dead letters
    assert len(applied) == 200
    for permit, ops in applied.items():
        assert ops == ["push", "update", "update", "delete"], (permit, ops)
    pushes = [e for e in sim.ledger("push") if e["applied"]]
    assert len(pushes) == 200
    assert dead_letters(database_url) == []
    failed = [e for e in sim.ledger() if e["fault"]]
    assert len(failed) > 50  # the failures really happened and were retried


def test_worker_killed_mid_flight_loses_nothing_and_pushes_nothing_twice(
        sim, amqp_url, database_url, tmp_path):
    # Given: slow OPS-COM so requests are in flight when the worker dies
    sim.faults(latency_ms=100)
    env = bridge_env(sim, amqp_url, database_url)
    permits = permit_events(60)
    with workers(env, tmp_path, count=1) as (first,):
        publish_concurrently(amqp_url, permits, threads=4)
        sim.wait_ledger(30, timeout=30)
        # When: the worker is killed with SIGKILL with requests in flight, then restarted
        first.kill()
    with workers(env, tmp_path, count=1):
        def settled():
            applied = applied_by_permit(sim.ledger())
            dead = {d["source_id"] for d in dead_letters(database_url)}
            finished = {p for p, ops in applied.items() if ops[-1:] == ["delete"]}
            return (applied, dead) if len(finished | dead) >= 60 else None
        applied, dead = wait_for(settled, timeout=90, what="every permit settled")
    # Then: every permit is deleted in order, or in the dead letters with its reason
    for permit, ops in applied.items():
        assert ops.count("push") == 1, (permit, ops)
        if permit not in dead:
            assert ops == ["push", "update", "update", "delete"], (permit, ops)
    for item in dead_letters(database_url):
        assert item["reason"].startswith(("outcome unknown", "blocked by")), item
    keys = {f"P{i:05d}" for i in range(60)}
    assert keys <= set(applied) | dead


ERROR_CODES = [9000, 9001, 9002, 9003, 9004, 9005, 9006, 9007, 9008, 9009, 9022, 9030, 9031,
               9032, 9033]


def test_each_opscom_error_code_dead_letters_at_once_with_its_code(
        sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM answers each documented error code once (HTTP 200, as it may)
    env = bridge_env(sim, amqp_url, database_url)
    with workers(env, tmp_path):
        publisher = IngressPublisher(amqp_url)
        for code in ERROR_CODES:
            sim.faults(fail_next=1, fail_kind=f"error:{code}")
            create = permit_events(1, source=f"code{code}")[0][0]
            publisher.send(create)
            # When: the worker forwards it
            wait_for(lambda c=code: [d for d in dead_letters(database_url)
                                     if d["source"] == f"code{c}"], 30, f"dead letter {code}")
        publisher.close()
    # Then: one attempt each, dead-lettered with OPS-COM's code and message
    by_source = {d["source"]: d for d in dead_letters(database_url)}
    for code in ERROR_CODES:
        item = by_source[f"code{code}"]
        assert item["error_code"] == code
        assert len(item["attempts"]) == 1
        assert item["attempts"][0]["error_code"] == code
        assert item["reason"].startswith(f"OPS-COM error {code}")
    assert len([e for e in sim.ledger("push")]) == len(ERROR_CODES)


def test_429_retry_after_is_honoured(sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM throttles the first push with Retry-After: 2
    sim.faults(fail_next=1, fail_kind="429", retry_after=2)
    env = bridge_env(sim, amqp_url, database_url)
    create = permit_events(1, source="throttled")[0][0]
    with workers(env, tmp_path):
        IngressPublisher(amqp_url).send(create)
        # When: the push is retried
        sim.wait_ledger(2, op="push", timeout=30)
    first, second = sim.ledger("push")[:2]
    # Then: no sooner than 2 s later, and it was applied
    assert first["status"] == 429
    assert second["applied"]
    gap = _when(second["time"]) - _when(first["time"])
    assert gap.total_seconds() >= 2.0


def _when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
