"""/openapi.json and /docs, generated from the same marshmallow schemas the app loads.

Each vendor gets its own path (`/webhooks/easypark`, …) with its body schema and every
answer of the contract. Other blueprints add their paths by appending a function
`(spec) -> None` to `app.extensions["opscom_openapi"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, send_from_directory
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path

from bridge import __version__
from bridge.web.state import state
from bridge.web.vendors import Vendor

bp = Blueprint("openapi", __name__)
HOOKS = "opscom_openapi"


class Accepted(Schema):
    status = fields.String(required=True, metadata={"enum": ["accepted"]})
    event_id = fields.String(required=True)
    event_ids = fields.List(fields.String(), metadata={"description": "several sessions"})


class Duplicate(Schema):
    status = fields.String(required=True, metadata={"enum": ["duplicate", "ignored"]})
    event_id = fields.String(allow_none=True)
    event_ids = fields.List(fields.String())


class Error(Schema):
    error = fields.String(required=True)


class ValidationErrors(Schema):
    errors = fields.Dict(required=True, metadata={
        "description": "marshmallow's messages: flat for `standard`, nested like the payload "
                       "for other vendors"})


def _json(schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema}}, **extra}


RESPONSES = {
    "202": _json("Accepted", "Accepted: RabbitMQ confirmed every command"),
    "200": _json("Duplicate", "Already accepted (duplicate), or acknowledged and not forwarded"),
    "400": _json("Error", "Body is not JSON"),
    "401": _json("Error", "Bad or missing signature or credentials, or stale timestamp"),
    "404": _json("Error", "Unknown vendor"),
    "413": _json("Error", "Body over the limit (BRIDGE_MAX_BODY)"),
    "415": _json("Error", "Content type is not JSON"),
    "422": _json("ValidationErrors", "Invalid or untranslatable"),
    "503": _json("Error", "RabbitMQ could not confirm in time; retry later", headers={
        "Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}),
}
SECURITY = {
    "standard_webhooks": {"type": "apiKey", "in": "header", "name": "webhook-signature",
                          "description": "Standard Webhooks: webhook-id, webhook-timestamp, "
                                         "webhook-signature (v1,<base64 HMAC-SHA256>)"},
    "hmac": {"type": "apiKey", "in": "header", "name": "X-Signature",
             "description": "HMAC-SHA256 of the raw body (header name set per vendor)"},
    "basic": {"type": "http", "scheme": "basic"},
    "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def build_spec(vendors: dict[str, Vendor], hooks: list[Callable[[APISpec], None]]) -> APISpec:
    spec = APISpec(title="opscom-bridge", version=__version__, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Parking-app webhooks in, OPS-COM permit commands out."})
    for schema in (Accepted, Duplicate, Error, ValidationErrors):
        spec.components.schema(schema.__name__, schema=schema)
    for name, scheme in SECURITY.items():
        spec.components.security_scheme(name, scheme)
    spec.path("/webhooks/{vendor}", operations={"post": _generic_webhook()},
              parameters=[{"name": "vendor", "in": "path", "required": True,
                           "schema": {"type": "string"}}])
    for vendor in vendors.values():
        spec.path(f"/webhooks/{vendor.name}", operations={"post": _vendor_webhook(vendor)})
    _health_paths(spec)
    for hook in hooks:
        hook(spec)
    return spec


def _generic_webhook() -> dict[str, Any]:
    return {"summary": "Any configured vendor's webhook", "tags": ["webhooks"],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object"}}}}, "responses": dict(RESPONSES)}


def _vendor_webhook(vendor: Vendor) -> dict[str, Any]:
    schema = vendor.adapter.body_schema
    responses = {k: v for k, v in RESPONSES.items() if k != "404"}
    return {"summary": f"{vendor.name} webhook", "tags": ["webhooks"],
            "operationId": f"webhook_{vendor.name.replace('-', '_')}",
            "security": [{vendor.verifier.scheme: []}],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}},
            "responses": responses}


def _health_paths(spec: APISpec) -> None:
    plain = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    spec.path("/healthz", operations={"get": {"summary": "Liveness", "tags": ["health"],
                                              "responses": {"200": plain}}})
    spec.path("/readyz", operations={"get": {
        "summary": "Readiness: RabbitMQ and the database answer", "tags": ["health"],
        "responses": {"200": plain, "503": {**plain, "description": "Not ready"}}}})
    spec.path("/metrics", operations={"get": {"summary": "Prometheus metrics", "tags": ["health"],
                                              "responses": {"200": {"description": "text",
                                                "content": {"text/plain": {"schema": {
                                                    "type": "string"}}}}}}})


def init_app(app: Flask) -> None:
    app.extensions.setdefault(HOOKS, [])
    app.register_blueprint(bp)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build_spec(state().vendors, current_app.extensions[HOOKS]).to_dict())


@bp.get("/docs")
def docs() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/static/<name>")
def docs_static(name: str) -> Response:
    """Swagger UI's files, served from the installed bundle: /docs works offline too."""
    if name not in DOCS_FILES:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=86400)


#: The Swagger UI files the docs page uses (nothing else of the bundle is served).
DOCS_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>opscom-bridge API</title>
<link rel="stylesheet" href="docs/static/swagger-ui.css"></head>
<body><noscript>The API description is at <a href="openapi.json">/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""
