"""Dead letters as a workbench, end to end: a permit blocked behind a refused create is
replayed in order through the real worker, and an `outcome unknown` create is adopted."""

from __future__ import annotations

import subprocess
import sys

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


def dlq(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", "dlq", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_replaying_a_permit_restores_its_order(sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM refuses the first push once (9033), so the create is dead-lettered
    # and the permit's update and delete follow it there as "blocked by"
    env = bridge_env(sim, amqp_url, database_url)
    events = permit_events(1, source="replay")[0]
    sim.faults(fail_next=1, fail_kind="error:9033", ops=["push"])
    with workers(env, tmp_path):
        publisher = IngressPublisher(amqp_url)
        for event in (events[0], events[1], events[3]):
            publisher.send(event)
        publisher.close()
        items = wait_for(lambda: (lambda d: d if len(d) == 3 else None)(
            dead_letters(database_url)), 30, "three dead letters")
        assert [d["action"] for d in items] == ["create", "update", "delete"]
        assert items[1]["reason"] == f"blocked by {events[0]['event_id']}"
        # When: operations replay the permit, oldest first
        done = dlq(env, "replay", "--permit", "P00000")
        assert done.returncode == 0, done.stderr
        wait_for(lambda: applied_by_permit(sim.ledger()).get("P00000") == [
            "push", "update", "delete"], 30, "the permit applied in order")
    # Then: applied in order, and the dead letters are gone
    assert dead_letters(database_url) == []


def test_an_unknown_create_is_adopted_by_its_reference(sim, amqp_url, database_url, tmp_path):
    # Given: OPS-COM applies the push but the answer is lost (dead-lettered, not re-pushed)
    env = bridge_env(sim, amqp_url, database_url)
    create, update, _u2, _delete = permit_events(1, source="adopt")[0]
    sim.faults(fail_next=1, fail_kind="drop_after", ops=["push"])
    with workers(env, tmp_path):
        publisher = IngressPublisher(amqp_url)
        publisher.send(create)
        (item,) = wait_for(lambda: dead_letters(database_url), 30, "the unknown create")
        assert item["reason"].startswith("outcome unknown")
        reference = sim.ledger("push")[0]["reference_id"]
        # When: the operator finds the permit in OPS-COM and replays the create with it
        edited = tmp_path / "edited.json"
        edited.write_text('{"action": "create", "source": "adopt", "source_id": "P00000", '
                          f'"referenceID": "{reference}", "plate": "PL00000", '
                          '"startTime": "2026-11-22T10:00:00Z", '
                          '"endTime": "2026-11-22T11:00:00Z"}')
        done = dlq(env, "replay", item["id"], "--edit", str(edited))
        assert done.returncode == 0, done.stderr
        publisher.send(update)
        publisher.close()
        sim.wait_ledger(1, op="update", timeout=30)
    # Then: one push only, and the update reached the adopted permit
    assert len(sim.ledger("push")) == 1
    assert sim.ledger("update")[0]["body"]["referenceID"] == reference
    assert dead_letters(database_url) == []
