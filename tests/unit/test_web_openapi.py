"""/openapi.json is valid OpenAPI 3 with every vendor's body schema and answers; /docs renders."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from bridge.web import create_app
from tests.unit.test_web import FakePublisher, make_settings


@pytest.fixture
def app(tmp_path):
    return create_app(make_settings(tmp_path), publisher=FakePublisher())


@pytest.fixture
def client(app):
    return app.test_client()


def test_openapi_is_valid(client):
    spec = client.get("/openapi.json").json
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_vendor_has_its_body_schema_and_every_answer(client):
    spec = client.get("/openapi.json").json
    for vendor in ("standard", "easypark", "passport", "paybyx", "parkfast"):
        operation = spec["paths"][f"/webhooks/{vendor}"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/")
        assert set(operation["responses"]) == {"202", "200", "400", "401", "413", "415",
                                               "422", "503"}
        assert "Retry-After" in operation["responses"]["503"]["headers"]
    generic = spec["paths"]["/webhooks/{vendor}"]["post"]["responses"]
    assert "404" in generic
    components = spec["components"]["schemas"]
    assert {"Accepted", "Duplicate", "Error", "ValidationErrors"} <= set(components)
    assert "parkingId" in components["EasyParkSession"]["properties"]
    assert "session" in components["ParkfastWebhook"]["properties"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"]


def test_security_follows_the_vendor_configuration(client):
    paths = client.get("/openapi.json").json["paths"]
    assert paths["/webhooks/easypark"]["post"]["security"] == [{"basic": []}]
    assert paths["/webhooks/passport"]["post"]["security"] == [{"standard_webhooks": []}]
    assert paths["/webhooks/parkfast"]["post"]["security"] == [{"hmac": []}]


def test_docs_page_renders(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "swagger-ui" in text and "openapi.json" in text
    assert "https://" not in text  # no CDN: the page works on a closed network


@pytest.mark.parametrize(("name", "mimetype"), [("swagger-ui-bundle.js", "text/javascript"),
                                               ("swagger-ui.css", "text/css")])
def test_docs_page_assets_are_served_locally(client, name, mimetype):
    page = client.get("/docs").get_data(as_text=True)
    assert f"docs/static/{name}" in page
    asset = client.get(f"/docs/static/{name}")
    assert asset.status_code == 200
    assert asset.mimetype == mimetype
    assert len(asset.get_data()) > 10_000


def test_docs_static_serves_only_the_page_assets(client):
    assert client.get("/docs/static/index.html").status_code == 404
    assert client.get("/docs/static/..%2Fpyproject.toml").status_code == 404


def test_other_blueprints_can_add_paths(app, client):
    app.extensions["opscom_openapi"].append(
        lambda spec: spec.path("/admin/stats", operations={"get": {
            "responses": {"200": {"description": "stats"}}}}))
    spec = client.get("/openapi.json").json
    validate(spec)
    assert "/admin/stats" in spec["paths"]
