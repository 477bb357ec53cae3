"""Webhooks on the real RabbitMQ: the exact command that reaches the work queues, and
nothing at all for every answer other than 202.

The app runs in-process (Flask test client) with the real confirmed Publisher on a
fresh vhost and a fresh database; work queues are read back with pika.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from kombu import Connection

from bridge import db
from bridge.secret import Secret
from bridge.settings import Settings
from bridge.topology import WORK_QUEUE_PREFIX, declare
from bridge.web import create_app
from tests.unit.test_vendors import EASYPARK, passport, paybyx, session
from tests.unit.test_vendors_compiler import parkfast
from tests.unit.test_web import STANDARD, make_settings, post, signed

pytestmark = pytest.mark.integration
PARTITIONS = 4


def settings_for(tmp_path, amqp_url: str, database_url: str, **extra: Any) -> Settings:
    return make_settings(tmp_path, amqp_url=Secret(amqp_url),
                         database_url=Secret(database_url), partitions=PARTITIONS, **extra)


def declare_topology(settings: Settings) -> None:
    with Connection(settings.amqp_url.reveal()) as connection:
        declare(connection, settings)


@pytest.fixture
def settings(tmp_path, amqp_url, database_url) -> Settings:
    found = settings_for(tmp_path, amqp_url, database_url)
    declare_topology(found)
    return found


@pytest.fixture
def client(settings) -> Iterator[Any]:
    app = create_app(settings, engine=db.connect(settings.database_url.reveal()))
    try:
        yield app.test_client()
    finally:
        app.extensions["opscom"].publisher.close()


def take_work(amqp_url: str) -> list[dict[str, Any]]:
    """Every work message (taken off the queues): envelope plus AMQP message_id."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    found = []
    for n in range(PARTITIONS):
        while True:
            method, props, body = channel.basic_get(f"{WORK_QUEUE_PREFIX}{n}", auto_ack=True)
            if method is None:
                break
            found.append({**json.loads(body), "message_id": props.message_id})
    connection.close()
    return found


def commands_on_queue(amqp_url: str) -> list[dict[str, Any]]:
    return sorted((m["command"] for m in take_work(amqp_url)), key=lambda c: c["event_id"])


P = "6f1c8c1e-8a4e-4a53-9d7e-0e2f2b7a9c11"
M = "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10"
PAYBYX_UPDATE = {"action": "update", "source": "paybyx", "source_id": P, "event_id": M,
                 "plate": "XYZ 987", "amount": "7.50", "currency": "USD",
                 "endTime": "2025-03-10T16:30:00"}
CASES = [
    ("standard, OPS-COM aliases, numeric amount, offsets", "standard",
     {"action": "create", "source": "acme-pos", "source_id": "r-77", "LicencePlate": "ab 12",
      "ParkingZoneName": "Lot 4", "TicketNumber": "L4-1138", "Amount": 14.5,
      "CurrencyID": "cad", "StartDateUtc": "2018-07-02T05:00:00-04:00",
      "EndDateUtc": "2018-07-02T09:30:00.75Z"}, "msg_std",
     [{"action": "create", "source": "acme-pos", "source_id": "r-77", "event_id": "msg_std",
       "plate": "AB 12", "zone": "Lot 4", "permitNo": "L4-1138", "amount": "14.50",
       "currency": "CAD", "startTime": "2018-07-02T09:00:00", "endTime": "2018-07-02T09:30:00"}]),
    ("standard update by source id", "standard",
     {"action": "update", "source": "acme-pos", "source_id": "r-77", "event_id": "e-2",
      "amount": "20", "endTime": "2018-07-02T11:00:00+01:00"}, "msg_std2",
     [{"action": "update", "source": "acme-pos", "source_id": "r-77", "event_id": "e-2",
       "amount": "20.00", "endTime": "2018-07-02T10:00:00"}]),
    ("easypark completed session", "easypark", EASYPARK, None,
     [{"action": "create", "source": "easypark", "source_id": "2791368361",
       "event_id": "2791368361", "plate": "ABC123", "zone": "Lot 02", "amount": "22.45",
       "currency": "CAD", "startTime": "2025-12-04T12:02:37", "endTime": "2025-12-04T13:12:00"}]),
    ("passport started, two sessions, string amounts, fractional seconds", "passport",
     passport("started", session("s-1", passport_zone_id="pz-1"),
              session("s-2", external_zone_id=None)), "msg_p1",
     [{"action": "create", "source": "passport", "source_id": "s-1", "event_id": "msg_p1:s-1",
       "plate": "ABC123", "zone": "LOT-4", "amount": "4.00", "currency": "CAD",
       "startTime": "2025-06-01T14:00:00", "endTime": "2025-06-01T16:00:00"},
      {"action": "create", "source": "passport", "source_id": "s-2", "event_id": "msg_p1:s-2",
       "plate": "ABC123", "zone": "Lot 9", "amount": "4.00", "currency": "CAD",
       "startTime": "2025-06-01T14:00:00", "endTime": "2025-06-01T16:00:00"}]),
    ("passport extended", "passport",
     passport("extended", session("s-1", end_time="2025-06-01T17:30:00-04:00",
                                  total_session_fees={"parking_fee": "7.00"})), "msg_p2",
     [{"action": "update", "source": "passport", "source_id": "s-1", "event_id": "msg_p2:s-1",
       "plate": "ABC123", "amount": "7.00", "currency": "CAD",
       "endTime": "2025-06-01T21:30:00"}]),
    ("passport stopped", "passport",
     passport("stopped", session("s-1", end_time="2025-06-01T15:10:00Z",
                                 total_session_fees={"parking_fee": 5, "currency_code": "CAD"})),
     "msg_p3",
     [{"action": "update", "source": "passport", "source_id": "s-1", "event_id": "msg_p3:s-1",
       "plate": "ABC123", "amount": "5.00", "currency": "CAD",
       "endTime": "2025-06-01T15:10:00"}]),
    ("paybyx NEW", "paybyx", paybyx("NEW", zone=None), "msg_x1",
     [{"action": "create", "source": "paybyx", "source_id": P, "event_id": M,
       "plate": "XYZ 987", "zone": "North Lot", "permitNo": "T-100234", "amount": "7.50",
       "currency": "USD", "startTime": "2025-03-10T14:00:00", "endTime": "2025-03-10T16:30:00"}]),
    ("paybyx EXTEND", "paybyx", paybyx("EXTEND"), "msg_x2", [PAYBYX_UPDATE]),
    ("paybyx UPDATE", "paybyx", paybyx("UPDATE"), "msg_x3", [PAYBYX_UPDATE]),
    ("paybyx CANCEL", "paybyx", paybyx("CANCEL"), "msg_x4",
     [{"action": "delete", "source": "paybyx", "source_id": P, "event_id": M}]),
    ("yaml-only vendor", "parkfast", parkfast(), None,
     [{"action": "create", "source": "parkfast", "source_id": "981", "event_id": "d-1",
       "plate": "ABC 123", "zone": "Lot 4", "permitNo": "55012", "amount": "12.50",
       "currency": "CAD", "startTime": "2025-05-01T12:00:00",
       "endTime": "2025-05-01T14:00:00"}]),
]


@pytest.mark.parametrize("vendor, payload, msg_id, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_exact_command_on_the_work_queue(client, settings, vendor, payload, msg_id, expected):
    # When the vendor posts a signed webhook
    answer = post(client, vendor, payload, msg_id)
    # Then 202, and exactly the normalized commands are on the work queues
    assert answer.status_code == 202, answer.json
    messages = take_work(settings.amqp_url.reveal())
    assert sorted((m["command"] for m in messages), key=lambda c: c["event_id"]) == expected
    for message in messages:
        assert message["vendor"] == vendor
        assert message["message"] == payload
        assert message["message_id"] == message["command"]["event_id"]
    # And a re-delivery is a duplicate that publishes nothing
    again = post(client, vendor, payload, msg_id)
    assert again.status_code == (409 if vendor == "easypark" else 200)
    assert again.json["status"] == "duplicate"
    assert take_work(settings.amqp_url.reveal()) == []


def test_paybyx_test_message_is_acknowledged_not_published(client, settings):
    answer = post(client, "paybyx", paybyx("TEST"), "msg_test")
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    assert take_work(settings.amqp_url.reveal()) == []


def _plain(client, vendor, body, headers):
    return client.post(f"/webhooks/{vendor}", data=body, headers=headers)


def _case_400(client):
    return _plain(client, "standard", *signed("standard", b"{not json"))


def _case_401(client):
    body, headers = signed("standard", STANDARD)
    return _plain(client, "standard", body + b" ", headers)


def _case_401_stale(client):
    body, headers = signed("standard", STANDARD)
    headers["webhook-timestamp"] = str(int(time.time()) - 600)
    return _plain(client, "standard", body, headers)


def _case_404(client):
    return post(client, "nobody", STANDARD)


def _case_413(client):
    return post(client, "standard", {**STANDARD, "pad": "x" * 300_000})


def _case_415(client):
    return post(client, "standard", STANDARD, headers={"Content-Type": "text/plain"})


def _case_422(client):
    return post(client, "standard", {**STANDARD, "plate": None, "endTime": "later"})


def _case_422_passport(client):
    bad = passport("started", session("s-1"), session("s-2", start_time="2025-13-01T00:00:00Z"))
    return post(client, "passport", bad, "msg_bad")


REFUSALS = [(_case_400, 400), (_case_401, 401), (_case_401_stale, 401), (_case_404, 404),
            (_case_413, 413), (_case_415, 415), (_case_422, 422), (_case_422_passport, 422)]


@pytest.mark.parametrize("send, status", REFUSALS, ids=[f.__name__[6:] for f, _ in REFUSALS])
def test_nothing_published_unless_202(client, settings, send, status):
    answer = send(client)
    assert answer.status_code == status, answer.json
    assert take_work(settings.amqp_url.reveal()) == []


def test_422_passport_is_nested_and_all_or_nothing(client, settings):
    answer = _case_422_passport(client)
    assert answer.json == {"errors": {"data": {"1": {"start_time": [
        "Not a valid time: use e.g. 2018-07-02T09:00:00, with an offset or Z if not UTC."]}}}}
    assert take_work(settings.amqp_url.reveal()) == []
