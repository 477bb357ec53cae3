"""Poison messages on opscom.ingress end in opscom.dead with their reason; nothing loops."""

from __future__ import annotations

import json

import pytest

from tests.integration.pipeline import (
    IngressPublisher,
    bridge_env,
    dead_letters,
    dead_queue_messages,
    permit_events,
    wait_for,
    workers,
)

pytestmark = pytest.mark.integration

GOOD = permit_events(1, source="poison")[0][0]
MAX_BODY = 4096

POISON = [
    # (id, body, routing action, content type, expected reason start)
    ("not-json", b"this is not json", "create", "application/json", "not JSON"),
    ("invalid-utf8", b'{"plate": "\xff\xfe"}', "create", "application/json", "not UTF-8"),
    ("oversize", json.dumps({**GOOD, "zone": "x" * MAX_BODY}).encode(), "create",
     "application/json", "message too large"),
    ("wrong-content-type", json.dumps(GOOD).encode(), "create", "text/plain",
     "wrong content type"),
    ("json-array", b"[1, 2, 3]", "create", "application/json", "not a JSON object"),
    ("wrong-types", json.dumps({**GOOD, "amount": {"value": 5}, "startTime": 12}).encode(),
     "create", "application/json", "invalid command"),
    ("unknown-action", json.dumps({k: v for k, v in GOOD.items() if k != "action"}).encode(),
     "frobnicate", "application/json", "invalid command"),
    ("missing-source-id", json.dumps({k: v for k, v in GOOD.items() if k != "source_id"})
     .encode(), "create", "application/json", "invalid command"),
]


def test_poison_messages_go_to_dead_letters_and_the_consumer_keeps_running(
        sim, amqp_url, database_url, tmp_path):
    env = bridge_env(sim, amqp_url, database_url, BRIDGE_MAX_BODY=str(MAX_BODY))
    with workers(env, tmp_path) as (worker,):
        publisher = IngressPublisher(amqp_url)
        # When: each poison message is published, then one good one
        for n, (_id, body, action, ctype, _reason) in enumerate(POISON):
            publisher.send(body, action=action, content_type=ctype, message_id=f"poison-{n}")
        publisher.send(GOOD, message_id="good-1")
        publisher.close()
        # Then: the good one still reaches OPS-COM (the consumer kept running)
        sim.wait_ledger(1, op="push", timeout=30)
        items = wait_for(lambda: (lambda d: d if len(d) >= len(POISON) else None)(
            dead_letters(database_url)), 30, "every poison message dead-lettered")
        assert "Traceback" not in worker.log()
    by_event = {d["event_id"]: d for d in items}
    for n, (case, _body, _action, _ctype, reason) in enumerate(POISON):
        item = by_event[f"poison-{n}"]
        assert item["reason"].startswith(reason), (case, item["reason"])
        assert item["command"] is None
        assert item["message"] is not None
    on_queue = dead_queue_messages(amqp_url)
    reasons = sorted(m["headers"]["x-opscom-reason"] for m in on_queue)
    assert len(on_queue) == len(POISON)
    assert all(m["body"]["reason"] == m["headers"]["x-opscom-reason"] for m in on_queue)
    assert any(r.startswith("not UTF-8") for r in reasons)
    wrong_types = by_event["poison-5"]["reason"]
    assert "amount" in wrong_types and "startTime" in wrong_types
