"""A vendor that exists only in BRIDGE_CONFIG, end to end: webhook -> RabbitMQ -> worker
process -> OPS-COM simulator ledger."""

from __future__ import annotations

import pytest

from bridge import db
from bridge.web import create_app
from tests.integration.pipeline import bridge_env, workers
from tests.integration.test_webhooks import settings_for
from tests.unit.test_vendors_compiler import parkfast
from tests.unit.test_web import post

pytestmark = pytest.mark.integration


def test_yaml_only_vendor_reaches_opscom(sim, amqp_url, database_url, tmp_path):
    # Given a worker forwarding to the simulator, and the web app with the example config
    settings = settings_for(tmp_path, amqp_url, database_url)
    env = bridge_env(sim, amqp_url, database_url, BRIDGE_PARTITIONS=str(settings.partitions))
    with workers(env, tmp_path, count=1):
        app = create_app(settings, engine=db.connect(database_url))
        try:
            client = app.test_client()
            # When ParkFast (defined only in YAML) posts a paid session, then a refund
            assert post(client, "parkfast", parkfast()).status_code == 202
            refund = {**parkfast("session.refunded"), "delivery_id": "d-2"}
            assert post(client, "parkfast", refund).status_code == 202
            # Then OPS-COM got the push with the translated fields, then the delete
            ledger = sim.wait_ledger(2, timeout=30)
        finally:
            app.extensions["opscom"].publisher.close()
    push, delete = ledger[0], ledger[1]
    assert push["op"] == "push" and push["applied"]
    body = push["body"]
    assert {k: body.get(k) for k in ("plate", "zone", "permitNo", "amount", "currency",
                                     "startTime", "endTime")} == {
        "plate": "ABC 123", "zone": "Lot 4", "permitNo": "55012", "amount": "12.50",
        "currency": "CAD", "startTime": "2025-05-01T12:00:00", "endTime": "2025-05-01T14:00:00"}
    assert delete["op"] == "delete" and delete["applied"]
    assert delete["reference_id"] == push["reference_id"]
