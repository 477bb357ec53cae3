"""The /ui/ operations pages: sign-in, CSRF, dead-letter pages and actions, health."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection

from bridge import db
from bridge.deadletters import Filter
from bridge.publisher import Publisher
from bridge.topology import declare
from bridge.web.admin import Ops, build_ops
from bridge.web.ui import COOKIE, SESSION_SECONDS, _sign, ui_blueprint
from tests.integration.test_admin_api import (
    PARTITIONS,
    TOKEN,
    make_settings,
    seed,
    work_message_for,
)

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture
def ops(amqp_url: str, database_url: str) -> Iterator[Ops]:
    settings = make_settings(amqp_url, database_url)
    with Connection(amqp_url) as conn:
        declare(conn, settings)
    publisher = Publisher(amqp_url, PARTITIONS, confirm_timeout=10)
    yield build_ops(settings, db.connect(database_url), publisher)
    publisher.close()


def make_client(ops: Ops) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(ui_blueprint(ops))
    return app.test_client()


@pytest.fixture
def client(ops: Ops) -> FlaskClient:
    return make_client(ops)


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    answer = client.post("/ui/login", data={"token": TOKEN, "next": "/ui/"})
    assert answer.status_code == 303
    return client


def csrf_of(client: FlaskClient, path: str = "/ui/") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = CSRF.search(page.get_data(as_text=True))
    assert found
    return found.group(1)


# -- sign-in -----------------------------------------------------------------------------
def test_pages_need_sign_in(client: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    for path in ("/ui/", f"/ui/dead-letters/{record['id']}", "/ui/health"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/ui/login" in answer.headers["Location"]
    posted = client.post(f"/ui/dead-letters/{record['id']}/delete")
    assert posted.status_code == 401 and ops.dead.get(record["id"]) is not None
    assert client.get("/ui/static/ui.css").status_code == 200


def test_login_sets_a_strict_http_only_cookie(client: FlaskClient, ops: Ops) -> None:
    seed(ops.dead, reason="OPS-COM error 9006: Plate is a required field.")
    assert client.get("/ui/login").status_code == 200
    answer = client.post("/ui/login", data={"token": TOKEN, "next": "/ui/health"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/ui/health")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert TOKEN not in cookie
    page = client.get("/ui/")
    assert page.status_code == 200 and "Plate is a required field." in page.get_data(as_text=True)


@pytest.mark.parametrize("token", ["", "wrong", TOKEN + "x"])
def test_wrong_token_is_refused(client: FlaskClient, token: str) -> None:
    answer = client.post("/ui/login", data={"token": token})
    assert answer.status_code == 401 and "Set-Cookie" not in answer.headers
    assert client.get("/ui/").status_code == 302


def test_login_does_not_redirect_elsewhere(client: FlaskClient) -> None:
    answer = client.post("/ui/login", data={"token": TOKEN, "next": "https://evil.example/"})
    assert answer.headers["Location"] == "/ui/"


def test_forged_and_expired_sessions_are_refused(client: FlaskClient, ops: Ops) -> None:
    client.set_cookie(COOKIE, "123.abc.deadbeef", path="/ui")
    assert client.get("/ui/").status_code == 302
    old = f"{1000}.nonce"
    client.set_cookie(COOKIE, f"{old}.{_sign(ops, 'ui-session:' + old)}", path="/ui")
    assert client.get("/ui/").status_code == 302
    assert SESSION_SECONDS < 10**9


def test_logout(signed_in: FlaskClient) -> None:
    token = csrf_of(signed_in)
    assert signed_in.post("/ui/logout", data={"csrf_token": token}).status_code == 303
    assert signed_in.get("/ui/").status_code == 302


def test_bearer_works_without_csrf(client: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/ui/", headers=auth).status_code == 200
    answer = client.post(f"/ui/dead-letters/{record['id']}/delete", headers=auth)
    assert answer.status_code == 303 and ops.dead.get(record["id"]) is None


# -- CSRF ----------------------------------------------------------------------------------
@pytest.mark.parametrize("form", [{}, {"csrf_token": "0" * 64}, {"csrf_token": ""}])
def test_csrf_rejects_forged_posts(signed_in: FlaskClient, ops: Ops,
                                   form: dict[str, str]) -> None:
    record = seed(ops.dead)
    for path in (f"/ui/dead-letters/{record['id']}/delete",
                 f"/ui/dead-letters/{record['id']}/replay", "/ui/dead-letters/purge",
                 "/ui/dead-letters/replay"):
        answer = signed_in.post(path, data={**form, "confirm": "yes"})
        assert answer.status_code == 403, path
    assert ops.dead.get(record["id"]) is not None


def test_csrf_token_of_another_session_is_refused(ops: Ops) -> None:
    record = seed(ops.dead)
    first, second = make_client(ops), make_client(ops)
    for c in (first, second):
        c.post("/ui/login", data={"token": TOKEN})
    answer = second.post(f"/ui/dead-letters/{record['id']}/delete",
                         data={"csrf_token": csrf_of(first)})
    assert answer.status_code == 403 and ops.dead.get(record["id"]) is not None


# -- pages and actions -------------------------------------------------------------------
def test_list_filters_and_escaping(signed_in: FlaskClient, ops: Ops) -> None:
    seed(ops.dead, "p-1", "e-1", reason="<script>alert(1)</script>")
    seed(ops.dead, "p-2", "e-2", vendor="easypark", reason="only-easypark")
    page = signed_in.get("/ui/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    filtered = signed_in.get("/ui/?vendor=easypark").get_data(as_text=True)
    assert "only-easypark" in filtered and "alert(1)" not in filtered
    bad = signed_in.get("/ui/?error_code=abc")
    assert bad.status_code == 400 and "error_code" in bad.get_data(as_text=True)


def test_detail_shows_reason_attempts_message_and_command(signed_in: FlaskClient,
                                                          ops: Ops) -> None:
    record = seed(ops.dead)
    page = signed_in.get(f"/ui/dead-letters/{record['id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "OPS-COM error 9033" in text and "2024-05-01T10:00:01" in text
    assert "&#34;raw&#34;: true" in text and "&#34;plate&#34;: &#34;ABC123&#34;" in text
    assert '<textarea id="command" name="command"' in text
    assert signed_in.get("/ui/dead-letters/nope").status_code == 404


def test_replay_as_is(signed_in: FlaskClient, ops: Ops, amqp_url: str) -> None:
    record = seed(ops.dead)
    token = csrf_of(signed_in, f"/ui/dead-letters/{record['id']}")
    answer = signed_in.post(f"/ui/dead-letters/{record['id']}/replay", data={"csrf_token": token})
    assert answer.status_code == 303 and "done=replayed" in answer.headers["Location"]
    assert "Replayed 1" in signed_in.get(answer.headers["Location"]).get_data(as_text=True)
    assert work_message_for(amqp_url, record["command"]) is not None
    assert ops.dead.get(record["id"]) is None


def test_replay_edited(signed_in: FlaskClient, ops: Ops, amqp_url: str) -> None:
    record = seed(ops.dead)
    token = csrf_of(signed_in)
    edited = json.dumps({**record["command"], "plate": "EDIT42"})
    answer = signed_in.post(f"/ui/dead-letters/{record['id']}/replay",
                            data={"csrf_token": token, "command": edited})
    assert answer.status_code == 303
    published = work_message_for(amqp_url, record["command"])
    assert published is not None and published["command"]["plate"] == "EDIT42"


@pytest.mark.parametrize(("text", "expected"), [
    ("{not json", "Not JSON"),
    (json.dumps({"action": "create", "source_id": "p-1"}), "plate"),
])
def test_replay_edited_invalid_is_422(signed_in: FlaskClient, ops: Ops, amqp_url: str,
                                      text: str, expected: str) -> None:
    record = seed(ops.dead)
    answer = signed_in.post(f"/ui/dead-letters/{record['id']}/replay",
                            data={"csrf_token": csrf_of(signed_in), "command": text})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and expected in page
    assert ops.dead.get(record["id"]) is not None
    assert work_message_for(amqp_url, record["command"]) is None


def test_edited_create_with_reference_adopts(signed_in: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    edited = json.dumps({**record["command"], "referenceID": "ref-from-opscom"})
    answer = signed_in.post(f"/ui/dead-letters/{record['id']}/replay",
                            data={"csrf_token": csrf_of(signed_in), "command": edited})
    assert answer.status_code == 303 and "done=adopted" in answer.headers["Location"]
    permit = ops.store.permit("acme", "p-1")
    assert permit is not None and permit["reference_id"] == "ref-from-opscom"


def test_replay_matching_and_purge(signed_in: FlaskClient, ops: Ops, amqp_url: str) -> None:
    keep = seed(ops.dead, "p-1", "e-1", vendor="easypark")
    replay = seed(ops.dead, "p-2", "e-2")
    token = csrf_of(signed_in)
    answer = signed_in.post("/ui/dead-letters/replay",
                            data={"csrf_token": token, "vendor": "standard"})
    assert answer.status_code == 303 and "n=1" in answer.headers["Location"]
    assert work_message_for(amqp_url, replay["command"]) is not None
    assert [i["id"] for i in ops.dead.list()[0]] == [keep["id"]]
    refused = signed_in.post("/ui/dead-letters/purge", data={"csrf_token": token})
    assert refused.status_code == 400 and ops.dead.list()[1] == 1
    done = signed_in.post("/ui/dead-letters/purge", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and ops.dead.list()[1] == 0


def test_delete(signed_in: FlaskClient, ops: Ops) -> None:
    record = seed(ops.dead)
    token = csrf_of(signed_in)
    answer = signed_in.post(f"/ui/dead-letters/{record['id']}/delete", data={"csrf_token": token})
    assert answer.status_code == 303 and ops.dead.get(record["id"]) is None
    again = signed_in.post(f"/ui/dead-letters/{record['id']}/delete", data={"csrf_token": token})
    assert again.status_code == 404


# -- health --------------------------------------------------------------------------------
def test_health_shows_queue_depths_and_database(signed_in: FlaskClient, ops: Ops) -> None:
    for n in range(3):
        seed(ops.dead, f"p-{n}", f"e-{n}")
    ops.replayer().replay_many(Filter())
    page = signed_in.get("/ui/health")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    depths = dict(re.findall(r"<td>(opscom\.work\.\d+)</td>\s*<td>(\d+)</td>", text))
    assert set(depths) == {f"opscom.work.{n}" for n in range(PARTITIONS)}
    assert sum(int(v) for v in depths.values()) == 3
    assert "opscom.dead" in text and "opscom.ingress" in text
    assert text.count('class="ok">reachable') == 2
    assert "not checked" in text


def test_health_when_rabbitmq_is_down(database_url: str, amqp_url: str, ops: Ops) -> None:
    settings = make_settings("amqp://guest:pw-123456@127.0.0.1:1/%2F", database_url)
    client = make_client(build_ops(settings, ops.engine))
    text = client.get("/ui/health", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(
        as_text=True)
    assert "unreachable" in text and "pw-123456" not in text


def test_health_checks_opscom_on_request(amqp_url: str, database_url: str, sim: Any) -> None:
    settings = make_settings(amqp_url, database_url, OPSCOM_BASE_URL=sim.base_url,
                             OPSCOM_API_TOKEN=sim.token, OPSCOM_CLIENT_CODE=sim.client_code)
    client = make_client(build_ops(settings, db.connect(database_url)))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert sim.ledger(op="stats") == []
    text = client.get("/ui/health?check=opscom", headers=auth).get_data(as_text=True)
    assert "answered a stats call" in text
    assert len(sim.ledger(op="stats")) == 1
