"""Broker and database trouble in the middle of work: nothing lost, nothing pushed twice.

The broker's connections are cut only for this test's vhost (`rabbitmqctl
close_all_connections --vhost`), the database's only for this test's database
(`pg_terminate_backend`), so other runs on the machine are not touched.
"""

from __future__ import annotations

import subprocess
import threading
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from tests.integration.pipeline import (
    applied_by_permit,
    bridge_env,
    dead_letters,
    permit_events,
    wait_for,
    workers,
)
from tests.integration.test_pipeline import publish_concurrently

pytestmark = pytest.mark.integration
PERMITS = 80


def cut_broker_connections(amqp_url: str) -> None:
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "--vhost", vhost,
                    "test: broker restart"], check=True, capture_output=True, timeout=60)


def cut_database_connections(database_url: str) -> int:
    name = urlsplit(database_url.split("?")[0]).path.lstrip("/")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                         autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
    return len(rows)


def run_with_trouble(sim, amqp_url, database_url, tmp_path, trouble) -> dict[str, list[str]]:
    sim.faults(latency_ms=30)
    env = bridge_env(sim, amqp_url, database_url)
    permits = permit_events(PERMITS, source="trouble")
    with workers(env, tmp_path) as (worker,):
        sender = threading.Thread(target=publish_concurrently, args=(amqp_url, permits, 4))
        sender.start()
        sim.wait_ledger(PERMITS, timeout=60)  # well under way
        trouble()
        sender.join(60)

        def settled():
            applied = applied_by_permit(sim.ledger())
            done = [p for p, ops in applied.items() if ops[-1:] == ["delete"]]
            return applied if len(done) == PERMITS else None
        applied = wait_for(settled, 120, "every permit deleted")
        assert "Traceback" not in worker.log() or "infrastructure error" in worker.log()
    return applied


def test_broker_connections_cut_mid_flight(sim, amqp_url, database_url, tmp_path):
    applied = run_with_trouble(sim, amqp_url, database_url, tmp_path,
                               lambda: cut_broker_connections(amqp_url))
    for permit, ops in applied.items():
        assert ops == ["push", "update", "update", "delete"], (permit, ops)
    assert [d for d in dead_letters(database_url) if not d["reason"].startswith(
        ("outcome unknown", "blocked by"))] == []


def test_database_connections_cut_mid_flight(sim, amqp_url, postgres_url, tmp_path):
    cut: list[int] = []
    applied = run_with_trouble(sim, amqp_url, postgres_url, tmp_path,
                               lambda: cut.append(cut_database_connections(postgres_url)))
    assert cut[0] > 0  # the worker really lost its connections
    for permit, ops in applied.items():
        assert ops == ["push", "update", "update", "delete"], (permit, ops)
    assert dead_letters(postgres_url) == []


def test_applied_event_ids_are_forgotten_after_the_retention(database_url):
    from datetime import timedelta

    from sqlalchemy import update

    from bridge.db import connect
    from bridge.store import Store, events

    store = Store(connect(database_url))
    old = {"source": "s", "source_id": "1", "event_id": "old", "action": "update"}
    new = {**old, "event_id": "new"}
    for cmd in (old, new):
        store.begin(cmd, store.state(cmd))
        store.applied(cmd, None)
    with store.engine.begin() as conn:
        conn.execute(update(events).where(events.c.event_id == "old")
                     .values(updated_at=events.c.updated_at - timedelta(days=31)))
    assert store.purge_applied(timedelta(days=30)) == 1
    assert store.state(old).event_status is None
    assert store.state(new).event_status == "applied"
