"""A 30-second OPS-COM outage: the circuit opens, nothing exhausts its retries, all drain."""

from __future__ import annotations

import threading
import time

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
OUTAGE_S = 30.0


def test_outage_opens_the_circuit_and_everything_drains_after(
        sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM goes down; the retry schedule (about 8 s in all) is shorter
    # than the outage, so without the circuit every message would be dead-lettered
    env = bridge_env(sim, amqp_url, database_url, BRIDGE_CIRCUIT_FAILURES="3")
    permits = permit_events(40, source="outage")
    with workers(env, tmp_path) as (worker,):
        sim.faults(outage="503")
        recovery = threading.Timer(OUTAGE_S, sim.clear_faults)
        recovery.start()
        publisher = IngressPublisher(amqp_url)
        for events in permits:
            for event in events[:2]:
                publisher.send(event)
        publisher.close()
        # When: the outage lasts 30 s, then OPS-COM is back
        wait_for(lambda: "circuit open" in worker.log(), 20, "the circuit to open")
        recovery.join()

        def drained():
            applied = applied_by_permit(sim.ledger())
            done = [p for p, ops in applied.items() if ops == ["push", "update"]]
            return applied if len(done) == 40 else None
        wait_for(drained, 60, "every permit applied after recovery")
        assert "circuit closed" in worker.log()
    # Then: nothing was dead-lettered, and the outage cost few attempts
    assert dead_letters(database_url) == []
    failed = [e for e in sim.ledger() if e["fault"] and e["op"] != "stats"]
    assert len(failed) < 3 * 40  # far fewer than the schedule (6 per message) would burn


def test_worker_stops_promptly_while_the_circuit_is_open(sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM is down and the worker's lanes wait on the open circuit
    env = bridge_env(sim, amqp_url, database_url, BRIDGE_CIRCUIT_FAILURES="2")
    sim.faults(outage="503")
    with workers(env, tmp_path) as (worker,):
        publisher = IngressPublisher(amqp_url)
        for events in permit_events(5, source="stopping"):
            publisher.send(events[0])
        publisher.close()
        wait_for(lambda: "circuit open" in worker.log(), 20, "the circuit to open")
        calls_before = len(sim.ledger())
        # When: the worker is asked to stop
        started = time.monotonic()
        worker.process.terminate()
        worker.process.wait(20)
        took = time.monotonic() - started
    # Then: it stopped at once, without calling OPS-COM on its way out
    assert took < 5, took
    assert worker.process.returncode == 0
    calls_on_the_way_out = [e for e in sim.ledger()[calls_before:] if e["op"] != "stats"]
    assert calls_on_the_way_out == []
    assert dead_letters(database_url) == []
