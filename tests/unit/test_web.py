"""The webhook route end to end in-process: every answer of the contract, fake publisher."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from bridge import db
from bridge.errors import BrokerUnavailable
from bridge.secret import Secret
from bridge.settings import Settings, load_config_file
from bridge.web import create_app
from bridge.web.auth import Hmac, StandardWebhooks
from tests.unit.test_vendors import EASYPARK, passport, paybyx, session
from tests.unit.test_vendors_compiler import EXAMPLE, parkfast

WHSEC = "whsec_" + base64.b64encode(b"s" * 32).decode()
OLD_WHSEC = "whsec_" + base64.b64encode(b"o" * 32).decode()
SECRETS = {"standard": f"{WHSEC} {OLD_WHSEC}", "passport": WHSEC, "paybyx": WHSEC,
           "easypark": "easypark:pa55word", "parkfast": "pf-hmac-key"}


class FakePublisher:
    """Records what would reach the work queues; `down` makes it fail like a lost broker."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.down = False

    def publish_commands(self, commands: list[dict[str, Any]], **kwargs: Any) -> None:
        if self.down:
            raise BrokerUnavailable("no confirm within 2.0 s")
        self.published.extend(commands)

    def ping(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass


def make_settings(tmp_path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "config": load_config_file(str(EXAMPLE)),
        "vendor_secrets": {k: Secret(v) for k, v in SECRETS.items()},
        "database_url": Secret(f"sqlite:///{tmp_path / 'web.db'}"),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def app(tmp_path, publisher):
    settings = make_settings(tmp_path)
    return create_app(settings, publisher=publisher,
                      engine=db.connect(settings.database_url.reveal()))


@pytest.fixture
def client(app):
    return app.test_client()


def signed(vendor: str, payload: Any, msg_id: str | None = None,
           secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    """Body and headers as the vendor would send them."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if vendor == "easypark":
        token = base64.b64encode((secret or SECRETS["easypark"]).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif vendor == "parkfast":
        headers.update(Hmac([secret or SECRETS["parkfast"]], header="X-ParkFast-Signature",
                            prefix="sha256=", timestamp_header="X-ParkFast-Timestamp").sign(body))
    else:
        headers.update(StandardWebhooks([secret or WHSEC]).sign(body, msg_id))
    return body, headers


def post(client, vendor: str, payload: Any, msg_id: str | None = None, **kwargs: Any):
    body, headers = signed(vendor, payload, msg_id, kwargs.pop("secret", None))
    headers.update(kwargs.pop("headers", {}))
    return client.post(f"/webhooks/{vendor}", data=body, headers=headers, **kwargs)


STANDARD = {"action": "create", "source": "acme-pos", "source_id": "r-1", "plate": "AB12",
            "zone": "Lot 4", "amount": "3.50", "currency": "CAD",
            "startTime": "2025-01-01T10:00:00Z", "endTime": "2025-01-01T12:00:00Z"}
ACCEPTED = [
    ("standard", STANDARD, "msg_s1", "msg_s1"),
    ("easypark", EASYPARK, None, "2791368361"),
    ("passport", passport("started", session("s-1"), session("s-2")), "msg_p1", "msg_p1"),
    ("paybyx", paybyx("NEW"), "msg_x", "0b7f6a0e-1111-4c1e-9a47-5d1f0c3b2a10"),
    ("parkfast", parkfast(), None, "d-1"),
]


@pytest.mark.parametrize("vendor, payload, msg_id, event_id", ACCEPTED,
                         ids=[c[0] for c in ACCEPTED])
def test_accepted_then_duplicate(client, publisher, vendor, payload, msg_id, event_id):
    # Given a signed, valid delivery
    answer = post(client, vendor, payload, msg_id)
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "accepted"
    assert answer.json["event_id"] == event_id
    published = len(publisher.published)
    assert published >= 1
    # When the same delivery comes again (a retry: same id, new signature)
    again = post(client, vendor, payload, msg_id)
    # Then it is a duplicate and nothing more is published
    assert again.status_code == (409 if vendor == "easypark" else 200)
    assert again.json == {**answer.json, "status": "duplicate"}
    assert len(publisher.published) == published


def test_passport_answer_lists_every_session(client, publisher):
    answer = post(client, "passport", passport("started", session("s-1"), session("s-2")), "m9")
    assert answer.json == {"status": "accepted", "event_id": "m9",
                           "event_ids": ["m9:s-1", "m9:s-2"]}
    assert [c["source_id"] for c in publisher.published] == ["s-1", "s-2"]


def refused(client, publisher, answer, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.json
    assert publisher.published == []
    return answer.json


def test_unknown_vendor_404(client, publisher):
    assert refused(client, publisher, post(client, "nobody", STANDARD), 404)


def test_body_over_the_limit_413(tmp_path, publisher):
    app = create_app(make_settings(tmp_path, max_body=100), publisher=publisher)
    answer = post(app.test_client(), "standard", {**STANDARD, "pad": "x" * 200})
    refused(app.test_client(), publisher, answer, 413)


def test_body_over_the_limit_without_content_length_413(tmp_path, publisher):
    app = create_app(make_settings(tmp_path, max_body=100), publisher=publisher)
    body, headers = signed("standard", {**STANDARD, "pad": "x" * 200})
    answer = app.test_client().post("/webhooks/standard", headers=headers,
                                    input_stream=io.BytesIO(body),
                                    environ_overrides={"wsgi.input_terminated": True})
    refused(app.test_client(), publisher, answer, 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_not_json_content_type_415(client, publisher, content_type):
    answer = post(client, "standard", STANDARD, headers={"Content-Type": content_type})
    refused(client, publisher, answer, 415)


def test_json_suffix_content_type_is_json(client, publisher):
    answer = post(client, "standard", STANDARD, "m1",
                  headers={"Content-Type": "application/vnd.acme+json; charset=utf-8"})
    assert answer.status_code == 202


def _tamper(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "webhook-id": "other"}


@pytest.mark.parametrize("vendor, change", [
    ("standard", lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}),
    ("standard", _tamper),
    ("standard", lambda h: {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 400)}),
    ("standard", lambda h: {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 400)}),
    ("easypark", lambda h: {**h, "Authorization": "Basic " + base64.b64encode(b"easypark:no")
                            .decode()}),
    ("easypark", lambda h: {k: v for k, v in h.items() if k != "Authorization"}),
    ("parkfast", lambda h: {**h, "X-ParkFast-Signature": "sha256=" + "0" * 64}),
], ids=["missing", "tampered", "stale", "future", "wrong-password", "no-credentials",
        "hmac-wrong"])
def test_authentication_401(client, publisher, vendor, change):
    payload = {"standard": STANDARD, "easypark": EASYPARK, "parkfast": parkfast()}[vendor]
    body, headers = signed(vendor, payload)
    answer = client.post(f"/webhooks/{vendor}", data=body, headers=change(headers))
    body_text = json.dumps(refused(client, publisher, answer, 401))
    assert "pa55word" not in body_text and WHSEC not in body_text


def test_tampered_body_401(client, publisher):
    body, headers = signed("standard", STANDARD)
    answer = client.post("/webhooks/standard", data=body.replace(b"AB12", b"AB13"),
                         headers=headers)
    refused(client, publisher, answer, 401)


def test_rotated_key_accepted_and_unknown_key_refused(client, publisher):
    assert post(client, "standard", STANDARD, "m-rot", secret=OLD_WHSEC).status_code == 202
    stranger = "whsec_" + base64.b64encode(b"x" * 32).decode()
    answer = post(client, "standard", {**STANDARD, "source_id": "r-2"}, "m-x", secret=stranger)
    assert answer.status_code == 401
    assert len(publisher.published) == 1


def test_vendor_without_secret_401(tmp_path, publisher):
    settings = make_settings(tmp_path, vendor_secrets={})
    client = create_app(settings, publisher=publisher).test_client()
    refused(client, publisher, post(client, "standard", STANDARD), 401)


def test_signed_but_not_json_400(client, publisher):
    refused(client, publisher, post(client, "standard", b'{"action": "create",'), 400)
    refused(client, publisher, post(client, "standard", b"\xff\xfe{}"), 400)


def test_standard_422_is_flat(client, publisher):
    answer = post(client, "standard", {**STANDARD, "endTime": "soon", "plate": None})
    assert refused(client, publisher, answer, 422) == {"errors": {
        "plate": ["Missing data for required field."],
        "endTime": ["Not a valid time: use e.g. 2018-07-02T09:00:00, with an offset or Z if "
                    "not UTC."]}}


def test_passport_422_is_nested_and_all_or_nothing(client, publisher):
    bad = passport("started", session("s-1"), session("s-2", end_time="2025-06-01T10:00:00Z"))
    answer = post(client, "passport", bad, "m-bad")
    assert refused(client, publisher, answer, 422) == {
        "errors": {"data": {"1": {"end_time": ["Must not be before startTime."]}}}}


def test_unknown_zone_rejected_422(client, publisher):
    answer = post(client, "paybyx", paybyx("NEW", zone="Moon Lot", vendorLotId="X-1"))
    assert refused(client, publisher, answer, 422) == {
        "errors": {"enforcementData": {"zone": ["Unknown zone 'Moon Lot'."]}}}


def test_unknown_zone_passed_and_counted(client, publisher):
    answer = post(client, "easypark", {**EASYPARK, "parkingAreaId": 1, "parkingAreaName": "New"})
    assert answer.status_code == 202
    assert publisher.published[0]["zone"] == "New"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'opscom_unknown_zones_total{vendor="easypark"} 1.0' in metrics


def test_paybyx_test_message_200_not_forwarded(client, publisher):
    answer = post(client, "paybyx", {"messageId": "t", "enforcementData": {
        "transactionType": "TEST"}}, "msg_t")
    assert answer.status_code == 200
    assert answer.json["status"] == "ignored"
    assert publisher.published == []


def test_broker_down_503_then_retry_accepted(client, publisher):
    # Given RabbitMQ cannot confirm
    publisher.down = True
    answer = post(client, "standard", STANDARD, "msg_503")
    assert refused(client, publisher, answer, 503)
    assert answer.headers["Retry-After"] == "5"
    # When it is back, the vendor's retry is accepted (the 503 was not remembered)
    publisher.down = False
    assert post(client, "standard", STANDARD, "msg_503").status_code == 202
    assert len(publisher.published) == 1


def test_metrics_count_answers_without_secrets(client):
    post(client, "standard", STANDARD, "m-metrics")
    post(client, "nobody", STANDARD)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'opscom_webhooks_total{status="202",vendor="standard"} 1.0' in text
    assert 'opscom_webhooks_total{status="404",vendor="unknown"} 1.0' in text
    assert "opscom_publish_seconds_count 1.0" in text
    assert all(secret not in text for value in SECRETS.values() for secret in value.split())


def test_health_and_readiness(client, publisher):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"rabbitmq": True, "database": True}
    publisher.down = True
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_factory_refuses_broken_vendor(tmp_path, publisher):
    from bridge.errors import ConfigError

    config = {"vendors": {"acme": {"auth": {"scheme": "basic"}, "fields": {"plate": "p"}}}}
    with pytest.raises(ConfigError, match="acme"):
        create_app(make_settings(tmp_path, config=config), publisher=publisher)
