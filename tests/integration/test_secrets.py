"""Secrets stay secret: the OPS-COM token never shows in logs, dead letters or metrics."""

from __future__ import annotations

import json

import pytest
import requests

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
TOKEN = "sekrit-token-4f1b9c"  # the simulator accepts another one: every push is a 9002


def test_a_refused_token_does_not_leak(sim, amqp_url, database_url, tmp_path):
    env = bridge_env(sim, amqp_url, database_url, OPSCOM_API_TOKEN=TOKEN, LOG_LEVEL="DEBUG")
    create = permit_events(1, source="secret")[0][0]
    with workers(env, tmp_path, metrics=True) as (worker,):
        IngressPublisher(amqp_url).send(create)
        items = wait_for(lambda: dead_letters(database_url), 30, "the refused push")
        metrics = requests.get(f"http://127.0.0.1:{worker.metrics_port}/metrics",
                               timeout=5).text
        log = worker.log()
    assert items[0]["error_code"] == 9002
    for place, text in (("log", log), ("dead letters", json.dumps(items)),
                        ("opscom.dead", json.dumps(dead_queue_messages(amqp_url))),
                        ("metrics", metrics)):
        assert TOKEN not in text, place
    assert "9002" in log  # the log does say what happened
