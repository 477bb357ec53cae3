"""Broker trouble: 503 + Retry-After within the confirm timeout, nothing remembered,
and the publisher's connection comes back by itself when the broker does."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

import pytest

from bridge import db
from bridge.web import create_app
from tests.integration.test_webhooks import declare_topology, settings_for, take_work
from tests.plugins.services import _rabbitmqctl
from tests.unit.test_web import STANDARD, post

pytestmark = pytest.mark.integration


def test_unreachable_broker_503_with_retry_after(tmp_path, database_url):
    # Given AMQP_URL points at a closed port
    settings = settings_for(tmp_path, "amqp://guest:guest@127.0.0.1:1/%2F", database_url,
                            confirm_timeout=1.0)
    app = create_app(settings, engine=db.connect(database_url))
    try:
        client = app.test_client()
        # When a webhook arrives
        started = time.monotonic()
        answer = post(client, "standard", STANDARD, "msg_down")
        # Then 503 + Retry-After, and the request thread is free within the timeout
        assert answer.status_code == 503
        assert int(answer.headers["Retry-After"]) > 0
        assert time.monotonic() - started < 3.0
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["opscom"].publisher.close()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_broker_loss_503_then_recovers_by_itself(tmp_path, amqp_url, database_url):
    settings = settings_for(tmp_path, amqp_url, database_url)
    declare_topology(settings)
    vhost = unquote(urlsplit(amqp_url).path[1:])
    app = create_app(settings, engine=db.connect(database_url))
    client = app.test_client()
    try:
        assert post(client, "standard", STANDARD, "msg_before").status_code == 202
        assert len(take_work(amqp_url)) == 1
        # Given the broker drops us (the vhost goes away: its connections are closed)
        _rabbitmqctl("delete_vhost", vhost)
        wait_until(lambda: client.get("/readyz").status_code == 503, 10, "readyz 503")
        # When a webhook arrives: 503 with Retry-After, and it is not remembered
        retry = {**STANDARD, "source_id": "r-2"}
        answer = post(client, "standard", retry, "msg_during")
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        # When the broker is back, the publisher reconnects with no help
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        declare_topology(settings)
        wait_until(lambda: client.get("/readyz").status_code == 200, 15, "readyz 200")
        # Then the vendor's retry of the same delivery is accepted and published once
        assert post(client, "standard", retry, "msg_during").status_code == 202
        assert [m["command"]["event_id"] for m in take_work(amqp_url)] == ["msg_during"]
    finally:
        app.extensions["opscom"].publisher.close()


def test_readyz_with_real_broker_and_database(tmp_path, amqp_url, database_url):
    settings = settings_for(tmp_path, amqp_url, database_url)
    app = create_app(settings)  # its own publisher and database engine, from settings
    try:
        wait_until(lambda: app.test_client().get("/readyz").status_code == 200, 10, "readyz")
        assert app.test_client().get("/readyz").json["checks"] == {"rabbitmq": True,
                                                                  "database": True}
    finally:
        app.extensions["opscom"].publisher.close()
