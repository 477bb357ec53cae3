"""Pure parts of the worker: retry policy, lanes, circuit breaker, partitioning."""

import threading
import time

import pytest

from bridge.circuit import Circuit
from bridge.lanes import Lanes
from bridge.retry import RetryPolicy
from bridge.settings import load_settings
from bridge.topology import build, partition_for, permit_key


def test_retry_schedule_tiers_jitter_and_exhaustion():
    policy = RetryPolicy((1, 5, 30), jitter=0.2)
    for failures, delay in ((1, 1), (2, 5), (3, 30)):
        tier, ms = policy.next_delay(failures)
        assert tier == delay
        assert delay * 1000 <= ms <= delay * 1200 + 1
    assert not policy.exhausted(3)
    assert policy.exhausted(4)


@pytest.mark.parametrize(("retry_after", "tier", "min_ms"), [
    (2, 5, 2000), (0.5, 1, 1000), (29, 30, 29000), (99999, 30, 30000)])
def test_retry_after_is_honoured_and_capped(retry_after, tier, min_ms):
    policy = RetryPolicy((1, 5, 30), jitter=0.2, retry_after_max=60)
    got_tier, ms = policy.next_delay(1, retry_after)
    assert got_tier == tier
    assert ms >= min_ms


def test_lanes_keep_one_key_in_order_and_run_keys_concurrently():
    lanes = Lanes(threads=8)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    both_running = threading.Barrier(2, timeout=5)

    def job(key, n):
        def run():
            if n == 0:
                both_running.wait()  # a0 and b0 must run at the same time
            seen[key].append(n)
        return run

    for n in range(50):
        lanes.submit("a", job("a", n))
        lanes.submit("b", job("b", n))
    assert lanes.wait_idle(timeout=10)
    assert seen["a"] == list(range(50))
    assert seen["b"] == list(range(50))
    lanes.shutdown()


def test_circuit_opens_after_threshold_and_closes_when_probe_succeeds():
    healthy = threading.Event()
    changes: list[bool] = []
    circuit = Circuit(3, 0.05, probe=healthy.is_set, on_change=changes.append)
    circuit.failure()
    circuit.failure()
    assert not circuit.is_open
    circuit.failure()
    assert circuit.is_open
    assert not circuit.wait_closed(timeout=0.2)
    healthy.set()
    assert circuit.wait_closed(timeout=5)
    assert changes == [True, False]


def test_success_resets_the_failure_count():
    circuit = Circuit(2, 1.0, probe=lambda: True)
    circuit.failure()
    circuit.success()
    circuit.failure()
    assert not circuit.is_open


def test_partition_is_stable_and_spread():
    keys = [permit_key({"source": "s", "source_id": str(i)}) for i in range(800)]
    parts = [partition_for(k, 8) for k in keys]
    assert parts == [partition_for(k, 8) for k in keys]
    assert min(parts.count(p) for p in range(8)) > 50


def test_topology_arguments_for_quorum_and_classic():
    quorum = build(load_settings(environ={"BRIDGE_QUEUE_TYPE": "quorum",
                                          "BRIDGE_PARTITIONS": "3"}))
    work = [q for q in quorum.queues if q.name.startswith("opscom.work.")]
    assert [q.name for q in work] == ["opscom.work.0", "opscom.work.1", "opscom.work.2"]
    for q in work:
        assert q.queue_arguments["x-single-active-consumer"] is True
        assert q.queue_arguments["x-queue-type"] == "quorum"
        assert q.queue_arguments["x-dead-letter-strategy"] == "at-least-once"
    retry = [q for q in quorum.queues if q.name.startswith("opscom.retry.")]
    assert {q.queue_arguments["x-dead-letter-exchange"] for q in retry} == {"opscom.work"}
    classic = build(load_settings(environ={}))
    assert all("x-queue-type" not in (q.queue_arguments or {}) for q in classic.queues)


def test_lane_job_exception_does_not_stop_the_lane():
    lanes = Lanes(threads=2)
    ran = []

    def boom():
        raise RuntimeError("x")

    lanes.submit("k", boom)
    lanes.submit("k", lambda: ran.append(time.monotonic()))
    assert lanes.wait_idle(timeout=5)
    assert len(ran) == 1
