"""Several worker replicas share the partitions and keep each permit's order."""

from __future__ import annotations

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
PERMITS = 400


def test_three_workers_share_the_work_and_keep_order(sim, amqp_url, database_url, tmp_path):
    # Given: a slow OPS-COM and few calls in flight per worker, so one worker alone
    # would take a while, and 3 workers that check their share every second
    sim.faults(latency_ms=100)
    env = bridge_env(sim, amqp_url, database_url, BRIDGE_MAX_IN_FLIGHT="4",
                     BRIDGE_REBALANCE_INTERVAL="1")
    permits = permit_events(PERMITS, source="scale")
    with workers(env, tmp_path, count=3, metrics=True) as procs:
        # When: permits are created and updated
        publisher = IngressPublisher(amqp_url)
        for step in (0, 1):
            for events in permits:
                publisher.send(events[step])
        publisher.close()

        def finished():
            applied = applied_by_permit(sim.ledger())
            done = [p for p, ops in applied.items() if ops == ["push", "update"]]
            return applied if len(done) == PERMITS else None
        applied = wait_for(finished, 180, "every permit created and updated")
        shares = [p.metric("opscom_bridge_events_total", result="applied") for p in procs]
        handovers = sum(p.log().count("handed partition") for p in procs)
    # Then: every worker did a real part of the work, and no permit lost its order
    assert sum(shares) == 2 * PERMITS
    assert min(shares) > 0.1 * 2 * PERMITS, shares
    assert handovers >= 2
    assert all(ops == ["push", "update"] for ops in applied.values())
    assert dead_letters(database_url) == []
