"""The /admin JSON API on a real database and a real RabbitMQ vhost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection
from sqlalchemy import update

from bridge import db
from bridge.deadletters import DeadLetters, dead_letters
from bridge.publisher import Publisher
from bridge.settings import Settings, load_settings
from bridge.topology import WORK_QUEUE_PREFIX, declare, partition_for, permit_key
from bridge.web.admin import Ops, admin_blueprint, build_ops

pytestmark = pytest.mark.integration

TOKEN = "admin-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PARTITIONS = 2


def create_command(source_id: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {"action": "create", "source": "acme", "source_id": source_id, "event_id": event_id,
            "plate": "ABC123", "zone": "Lot 01", "startTime": "2024-05-01T10:00:00",
            "endTime": "2024-05-01T12:00:00", **extra}


def seed(dead: DeadLetters, source_id: str = "p-1", event_id: str = "e-1", *,
         vendor: str = "standard", error_code: int | None = 9033,
         reason: str = "OPS-COM error 9033: The field's value is invalid.",
         command: dict[str, Any] | None = None, no_command: bool = False) -> dict[str, Any]:
    """Record one dead letter the way the worker does."""
    cmd = None if no_command else (command or create_command(source_id, event_id))
    return dead.record(
        reason=reason, message={"raw": True, "id": event_id}, command=cmd,
        attempts=[{"at": "2024-05-01T10:00:01+00:00", "kind": "permanent", "http_status": 200,
                   "error_code": error_code, "error_message": "bad", "exception": None}],
        error_code=error_code, vendor=vendor, source="acme", source_id=source_id,
        event_id=event_id, action="create")


def make_settings(amqp_url: str, database_url: str, token: str | None = TOKEN,
                  **extra: str) -> Settings:
    environ = {"AMQP_URL": amqp_url, "DATABASE_URL": database_url,
               "BRIDGE_PARTITIONS": str(PARTITIONS), **extra}
    if token:
        environ["BRIDGE_ADMIN_TOKEN"] = token
    return load_settings(environ=environ)


def work_message_for(amqp_url: str, command: dict[str, Any]) -> dict[str, Any] | None:
    """basic_get the permit's work queue (what a replay published), or None if empty."""
    queue = f"{WORK_QUEUE_PREFIX}{partition_for(permit_key(command), PARTITIONS)}"
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        method, _props, body = conn.channel().basic_get(queue, auto_ack=True)
    finally:
        conn.close()
    return json.loads(body) if method else None


@pytest.fixture
def settings(amqp_url: str, database_url: str) -> Settings:
    found = make_settings(amqp_url, database_url)
    with Connection(amqp_url) as conn:
        declare(conn, found)
    return found


@pytest.fixture
def publisher(settings: Settings) -> Iterator[Publisher]:
    pub = Publisher(settings.amqp_url.reveal(), PARTITIONS, confirm_timeout=10)
    yield pub
    pub.close()


@pytest.fixture
def ops(settings: Settings, publisher: Publisher) -> Ops:
    return build_ops(settings, db.connect(settings.database_url.reveal()), publisher)


@pytest.fixture
def client(ops: Ops) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(admin_blueprint(ops))
    return app.test_client()


# -- authentication ------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"},
])
def test_every_route_needs_the_admin_token(client: FlaskClient, headers: dict[str, str]) -> None:
    for method, path in [("get", "/admin/dead-letters"), ("get", "/admin/dead-letters/x"),
                         ("post", "/admin/dead-letters/x/replay"),
                         ("post", "/admin/dead-letters/replay"),
                         ("delete", "/admin/dead-letters/x"), ("get", "/admin/permits/a/b"),
                         ("get", "/admin/stats")]:
        answer = getattr(client, method)(path, headers=headers)
        assert answer.status_code == 401, (method, path)
        assert set(answer.get_json()) == {"error"}
        assert TOKEN not in answer.get_data(as_text=True)


def test_no_admin_token_configured_locks_everyone_out(amqp_url: str, database_url: str) -> None:
    settings = make_settings(amqp_url, database_url, token=None)
    app = Flask(__name__)
    app.register_blueprint(admin_blueprint(build_ops(settings, db.connect(database_url))))
    answer = app.test_client().get("/admin/dead-letters", headers={"Authorization": "Bearer "})
    assert answer.status_code == 401
    assert "BRIDGE_ADMIN_TOKEN" in answer.get_json()["error"]


# -- listing and inspecting ------------------------------------------------------------
def test_list_shape_filters_and_pagination(client: FlaskClient, ops: Ops) -> None:
    for n in range(5):
        seed(ops.dead, f"p-{n}", f"e-{n}")
    seed(ops.dead, "p-x", "e-x", vendor="easypark", error_code=None, reason="timed out")
    everything = client.get("/admin/dead-letters", headers=AUTH).get_json()
    assert everything["total"] == 6 and len(everything["items"]) == 6
    first = everything["items"][0]
    for name in ("id", "reason", "error_code", "vendor", "source", "source_id", "event_id",
                 "action", "attempts", "created_at", "message", "command"):
        assert name in first
    assert first["command"]["source_id"] == "p-0" and first["message"] == {"raw": True,
                                                                          "id": "e-0"}
    assert isinstance(first["attempts"], list)

    page = client.get("/admin/dead-letters?limit=2&offset=2", headers=AUTH).get_json()
    assert page["total"] == 6
    assert [i["source_id"] for i in page["items"]] == ["p-2", "p-3"]
    by_vendor = client.get("/admin/dead-letters?vendor=easypark", headers=AUTH).get_json()
    assert by_vendor["total"] == 1 and by_vendor["items"][0]["reason"] == "timed out"
    by_code = client.get("/admin/dead-letters?error_code=9033", headers=AUTH).get_json()
    assert by_code["total"] == 5
    by_permit = client.get("/admin/dead-letters?permit=p-3&source=acme", headers=AUTH).get_json()
    assert [i["event_id"] for i in by_permit["items"]] == ["e-3"]


def test_since_filter(client: FlaskClient, ops: Ops) -> None:
    old, new = seed(ops.dead, "p-old", "e-old"), seed(ops.dead, "p-new", "e-new")
    long_ago = datetime.now(UTC) - timedelta(days=3)
    with ops.engine.begin() as conn:
        conn.execute(update(dead_letters).where(dead_letters.c.id == old["id"])
                     .values(created_at=long_ago))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    found = client.get("/admin/dead-letters", query_string={"since": since},
                       headers=AUTH).get_json()
    assert [i["id"] for i in found["items"]] == [new["id"]]


@pytest.mark.parametrize("query", ["limit=x", "offset=-1", "error_code=abc", "since=yesterday"])
def test_bad_query_parameters_are_400(client: FlaskClient, query: str) -> None:
    answer = client.get(f"/admin/dead-letters?{query}", headers=AUTH)
    assert answer.status_code == 400
    assert "errors" in answer.get_json()


def test_limit_is_capped(client: FlaskClient, ops: Ops) -> None:
    seed(ops.dead)
    answer = client.get("/admin/dead-letters?limit=5000", headers=AUTH)
    assert answer.status_code == 200 and answer.get_json()["total"] == 1


def test_show_and_404(client: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    shown = client.get(f"/admin/dead-letters/{record['id']}", headers=AUTH)
    assert shown.status_code == 200 and shown.get_json() == record
    missing = client.get("/admin/dead-letters/no-such-id", headers=AUTH)
    assert missing.status_code == 404 and "error" in missing.get_json()


# -- replay ----------------------------------------------------------------------------
def test_replay_publishes_to_the_work_queue_and_removes_the_dead_letter(
        client: FlaskClient, ops: Ops, amqp_url: str) -> None:
    record = seed(ops.dead)
    answer = client.post(f"/admin/dead-letters/{record['id']}/replay", headers=AUTH)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["replayed"] == [record["id"]] and body["counts"]["replayed"] == 1
    published = work_message_for(amqp_url, record["command"])
    assert published is not None
    assert published["command"]["source_id"] == "p-1"
    assert published["message"] == record["message"]
    assert ops.dead.get(record["id"]) is None


def test_edited_replay_sends_the_edit(client: FlaskClient, ops: Ops, amqp_url: str) -> None:
    record = seed(ops.dead)
    edited = {**record["command"], "plate": "XYZ789"}
    answer = client.post(f"/admin/dead-letters/{record['id']}/replay", json=edited, headers=AUTH)
    assert answer.status_code == 200
    published = work_message_for(amqp_url, record["command"])
    assert published is not None and published["command"]["plate"] == "XYZ789"


def test_edited_create_with_reference_adopts(client: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    edited = {**record["command"], "referenceID": "ref-123"}
    answer = client.post(f"/admin/dead-letters/{record['id']}/replay", json=edited, headers=AUTH)
    assert answer.status_code == 200 and answer.get_json()["adopted"] == [record["id"]]
    permit = client.get("/admin/permits/acme/p-1", headers=AUTH)
    assert permit.status_code == 200
    assert permit.get_json()["reference_id"] == "ref-123"
    assert permit.get_json()["state"] == "active"


@pytest.mark.parametrize("body", [{"action": "create", "plate": "A"}, ["not", "an", "object"],
                                  {"action": "explode", "source_id": "p-1"}])
def test_invalid_edit_is_422_and_keeps_the_dead_letter(
        client: FlaskClient, ops: Ops, amqp_url: str, body: Any) -> None:
    record = seed(ops.dead)
    answer = client.post(f"/admin/dead-letters/{record['id']}/replay", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert isinstance(answer.get_json()["errors"], dict)
    assert ops.dead.get(record["id"]) is not None
    assert work_message_for(amqp_url, record["command"]) is None


def test_not_json_is_400_and_message_without_command_is_422(client: FlaskClient,
                                                            ops: Ops) -> None:
    record = seed(ops.dead, no_command=True)
    path = f"/admin/dead-letters/{record['id']}/replay"
    assert client.post(path, data="{nope", headers=AUTH).status_code == 400
    answer = client.post(path, headers=AUTH)
    assert answer.status_code == 422 and "command" in answer.get_json()["errors"]


def test_replay_unknown_id_is_404(client: FlaskClient) -> None:
    assert client.post("/admin/dead-letters/nope/replay", headers=AUTH).status_code == 404


def test_replay_is_503_when_rabbitmq_cannot_confirm(settings: Settings, ops: Ops) -> None:
    dead_broker = Publisher("amqp://guest:guest@127.0.0.1:1/%2F", PARTITIONS,
                            confirm_timeout=0.3)
    try:
        broken = build_ops(settings, ops.engine, dead_broker)
        app = Flask(__name__)
        app.register_blueprint(admin_blueprint(broken))
        record = seed(ops.dead)
        answer = app.test_client().post(f"/admin/dead-letters/{record['id']}/replay",
                                        headers=AUTH)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"].isdigit()
        assert ops.dead.get(record["id"]) is not None
    finally:
        dead_broker.close()


def test_replay_by_filter_keeps_permit_order(client: FlaskClient, ops: Ops,
                                             amqp_url: str) -> None:
    create = seed(ops.dead, "p-9", "e-create")
    update_cmd = {"action": "update", "source": "acme", "source_id": "p-9",
                  "event_id": "e-update", "plate": "NEW1"}
    seed(ops.dead, "p-9", "e-update", command=update_cmd)
    other = seed(ops.dead, "p-other", "e-other", vendor="easypark")
    answer = client.post("/admin/dead-letters/replay", json={"permit": "p-9"}, headers=AUTH)
    assert answer.status_code == 200
    assert answer.get_json()["counts"] == {"replayed": 2, "adopted": 0, "failed": 0}
    first = work_message_for(amqp_url, create["command"])
    second = work_message_for(amqp_url, create["command"])
    assert first and second
    assert [first["command"]["action"], second["command"]["action"]] == ["create", "update"]
    remaining = client.get("/admin/dead-letters", headers=AUTH).get_json()
    assert [i["id"] for i in remaining["items"]] == [other["id"]]


def test_replay_all_with_empty_body(client: FlaskClient, ops: Ops) -> None:
    for n in range(3):
        seed(ops.dead, f"p-{n}", f"e-{n}")
    answer = client.post("/admin/dead-letters/replay", headers=AUTH)
    assert answer.status_code == 200 and answer.get_json()["counts"]["replayed"] == 3
    assert ops.dead.list()[1] == 0


def test_replay_by_filter_rejects_unknown_fields(client: FlaskClient, ops: Ops) -> None:
    seed(ops.dead)
    answer = client.post("/admin/dead-letters/replay", json={"colour": "red"}, headers=AUTH)
    assert answer.status_code == 422 and "colour" in answer.get_json()["errors"]
    assert ops.dead.list()[1] == 1


# -- delete and permits ------------------------------------------------------------------
def test_delete(client: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    answer = client.delete(f"/admin/dead-letters/{record['id']}", headers=AUTH)
    assert answer.status_code == 204 and answer.data == b""
    assert ops.dead.get(record["id"]) is None
    assert client.delete(f"/admin/dead-letters/{record['id']}", headers=AUTH).status_code == 404


def test_permit_row(client: FlaskClient, ops: Ops) -> None:
    command = create_command("p/with/slash", "e-7")
    ops.store.begin_create(command)
    ops.store.deadlettered(command)
    answer = client.get("/admin/permits/acme/p/with/slash", headers=AUTH)
    assert answer.status_code == 200
    row = answer.get_json()
    assert row["state"] == "pending" and row["blocked_by"] == "e-7"
    assert row["reference_id"] is None and row["waiting_on"] is None
    assert client.get("/admin/permits/acme/unknown", headers=AUTH).status_code == 404


# -- OPS-COM stats -------------------------------------------------------------------
def stats_client(amqp_url: str, database_url: str, sim: Any, token: str) -> FlaskClient:
    settings = make_settings(amqp_url, database_url, OPSCOM_BASE_URL=sim.base_url,
                             OPSCOM_API_TOKEN=token, OPSCOM_CLIENT_CODE=sim.client_code)
    app = Flask(__name__)
    app.register_blueprint(admin_blueprint(build_ops(settings, db.connect(database_url))))
    return app.test_client()


def test_stats_through_the_client(amqp_url: str, database_url: str, sim: Any) -> None:
    for zone in ("Lot 01", "Lot 01", "Lot 02", "Lot 03"):
        sim.push(zone=zone)
    client = stats_client(amqp_url, database_url, sim, sim.token)
    everything = client.get("/admin/stats", headers=AUTH)
    assert everything.status_code == 200
    totals = {row["zone"]: row["total"] for row in everything.get_json()["data"]}
    assert totals == {"Lot 01": "2", "Lot 02": "1", "Lot 03": "1"}
    some = client.get("/admin/stats", query_string={"zones": "Lot 01,Lot 02"}, headers=AUTH)
    assert {row["zone"] for row in some.get_json()["data"]} == {"Lot 01", "Lot 02"}


def test_stats_failure_is_502_without_the_token(amqp_url: str, database_url: str,
                                                sim: Any) -> None:
    wrong = "wrong-opscom-token-42"
    answer = stats_client(amqp_url, database_url, sim, wrong).get("/admin/stats", headers=AUTH)
    assert answer.status_code == 502
    error = answer.get_json()["error"]
    assert "9002" in error
    assert wrong not in answer.get_data(as_text=True)


def test_stats_without_opscom_settings_is_502(client: FlaskClient) -> None:
    answer = client.get("/admin/stats", headers=AUTH)
    assert answer.status_code == 502 and "OPSCOM_BASE_URL" in answer.get_json()["error"]


def test_create_app_serves_admin_and_ui(settings: Settings, publisher: Publisher,
                                        ops: Ops) -> None:
    from bridge.web import create_app

    record = seed(ops.dead)
    app = create_app(settings, publisher=publisher, engine=ops.engine)
    client = app.test_client()
    listed = client.get("/admin/dead-letters", headers=AUTH)
    assert listed.status_code == 200 and listed.get_json()["items"][0]["id"] == record["id"]
    assert client.get("/admin/dead-letters").status_code == 401
    assert client.get("/ui/").status_code == 302
    assert record["id"] in client.get("/ui/", headers=AUTH).get_data(as_text=True)
