"""/openapi.json describes the /admin API: every route with its methods, the Bearer scheme,
the answers' schemas; and what is documented is what the app routes (both ways)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from werkzeug.exceptions import MethodNotAllowed, NotFound

from bridge import db
from bridge.deadletters import FIELDS, DeadLetters
from bridge.secret import Secret
from bridge.web import create_app
from bridge.web.admin import FILTER_FIELDS, PERMIT_FIELDS
from bridge.web.admin_openapi import DeadLetter, DeadLetterPage
from tests.unit.test_web import FakePublisher, make_settings

TOKEN = "admin-token-for-openapi-tests"
ADMIN = {
    "/admin/dead-letters": {"get"},
    "/admin/dead-letters/{dead_letter_id}": {"get", "delete"},
    "/admin/dead-letters/{dead_letter_id}/replay": {"post"},
    "/admin/dead-letters/replay": {"post"},
    "/admin/permits/{source}/{source_id}": {"get"},
    "/admin/stats": {"get"},
}
#: DESIGN.md: a dead letter is an object with at least these fields.
CONTRACT_FIELDS = {"id", "reason", "error_code", "vendor", "source", "source_id", "event_id",
                   "action", "attempts", "created_at", "message", "command"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
DOCUMENTED_PREFIXES = ("/admin", "/webhooks")


@pytest.fixture
def app(tmp_path):
    settings = make_settings(tmp_path, admin_token=Secret(TOKEN))
    return create_app(settings, publisher=FakePublisher(),
                      engine=db.connect(settings.database_url.reveal()))


@pytest.fixture
def spec(app):
    found = app.test_client().get("/openapi.json").json
    validate(found)
    return found


def _operations(path_item):
    return {method for method in path_item if method in HTTP_METHODS}


def test_every_admin_route_is_described_with_its_methods(spec):
    admin = {path: _operations(item) for path, item in spec["paths"].items()
             if path.startswith("/admin")}
    assert admin == ADMIN


def test_admin_operations_need_the_bearer_token(spec):
    assert spec["components"]["securitySchemes"]["admin_bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "Authorization: Bearer <BRIDGE_ADMIN_TOKEN>"}
    for path, methods in ADMIN.items():
        for method in methods:
            operation = spec["paths"][path][method]
            assert operation["security"] == [{"admin_bearer": []}], (path, method)
            assert "401" in operation["responses"], (path, method)
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


def _schema_of(answer):
    return answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_answers_and_bodies(spec):
    paths = spec["paths"]
    listing = paths["/admin/dead-letters"]["get"]
    assert _schema_of(listing["responses"]["200"]) == "DeadLetterPage"
    query = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert query == {*FILTER_FIELDS, "limit", "offset"}
    one = paths["/admin/dead-letters/{dead_letter_id}"]
    assert _schema_of(one["get"]["responses"]["200"]) == "DeadLetter"
    assert set(one["get"]["responses"]) == {"200", "401", "404"}
    assert set(one["delete"]["responses"]) == {"204", "401", "404"}
    replay = paths["/admin/dead-letters/{dead_letter_id}/replay"]["post"]
    assert set(replay["responses"]) == {"200", "400", "401", "404", "422", "503"}
    assert _schema_of(replay["responses"]["200"]) == "ReplayResult"
    assert _schema_of(replay["responses"]["422"]) == "ValidationErrors"
    assert "Retry-After" in replay["responses"]["503"]["headers"]
    assert _schema_of(replay["requestBody"]) == "EditedCommand"
    assert replay["requestBody"]["required"] is False
    many = paths["/admin/dead-letters/replay"]["post"]
    assert set(many["responses"]) == {"200", "400", "401", "422", "503"}
    assert _schema_of(many["requestBody"]) == "DeadLetterFilter"
    permit = paths["/admin/permits/{source}/{source_id}"]["get"]
    assert _schema_of(permit["responses"]["200"]) == "Permit"
    stats = paths["/admin/stats"]["get"]
    assert _schema_of(stats["responses"]["200"]) == "StatsResponse"


def test_schemas_follow_the_code_and_the_contract(spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["DeadLetter"]["properties"]) == CONTRACT_FIELDS == set(FIELDS)
    assert set(schemas["DeadLetter"]["required"]) == CONTRACT_FIELDS
    assert set(schemas["DeadLetterPage"]["properties"]) == {"items", "total"}
    assert set(schemas["DeadLetterFilter"]["properties"]) == set(FILTER_FIELDS)
    assert set(schemas["Permit"]["properties"]) == set(PERMIT_FIELDS)
    assert set(schemas["ReplayResult"]["properties"]) == {"replayed", "adopted", "failed",
                                                          "counts"}
    # an edited command is the canonical command; the dead letter supplies source, event_id
    assert set(schemas["EditedCommand"]["properties"]) == set(
        schemas["PermitCommand"]["properties"])
    assert "source" not in schemas["EditedCommand"].get("required", [])


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def test_documented_routes_are_the_app_routes(app, spec):
    # every /admin and /webhooks rule of the app is documented, with exactly its methods
    routed: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(DOCUMENTED_PREFIXES):
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            routed.setdefault(_flask_to_openapi(rule.rule), set()).update(methods)
    assert routed
    for path, methods in routed.items():
        assert path in spec["paths"], path
        assert _operations(spec["paths"][path]) == methods, path
    # and every documented /admin and /webhooks operation reaches a route of the app
    urls = app.url_map.bind("localhost")
    documented = {p: item for p, item in spec["paths"].items()
                  if p.startswith(DOCUMENTED_PREFIXES)}
    assert set(ADMIN) <= set(documented)
    for path, item in documented.items():
        concrete = re.sub(r"\{([^{}]+)\}", r"some-\1", path)
        for method in _operations(item):
            try:
                endpoint, _ = urls.match(concrete, method=method.upper())
            except (NotFound, MethodNotAllowed):
                pytest.fail(f"{method.upper()} {path} is documented but not routed")
            assert endpoint.split(".")[0] in {"admin", "webhooks"}, (path, endpoint)


def test_a_real_dead_letter_matches_its_schema(app):
    dead = DeadLetters(app.extensions["opscom"].engine)
    dead.record(reason="OPS-COM error 9033: bad", message={"raw": True}, command={
        "action": "create", "source": "acme", "source_id": "p-1", "plate": "AB1"},
        attempts=[{"at": "2024-05-01T10:00:01+00:00", "kind": "permanent", "http_status": 200,
                   "error_code": 9033, "error_message": "bad", "exception": None,
                   "retry_after": None}],
        error_code=9033, vendor="standard", source="acme", source_id="p-1", event_id="e-1",
        action="create")
    dead.record(reason="not JSON", message="{oops", command=None, vendor="standard")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = client.get("/admin/dead-letters", headers=auth)
    assert page.status_code == 200
    assert DeadLetterPage().validate(page.json) == {}
    assert page.json["total"] == 2
    for item in page.json["items"]:
        shown = client.get(f"/admin/dead-letters/{item['id']}", headers=auth)
        assert DeadLetter().validate(shown.json) == {}
