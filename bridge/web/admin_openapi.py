"""The /admin API in /openapi.json: its paths, the Bearer scheme and marshmallow schemas.

The schemas describe what `bridge.web.admin` answers (a dead letter has the fields of
`bridge.deadletters.FIELDS`, a filter those of `admin.FILTER_FIELDS`, a permit those of
`admin.PERMIT_FIELDS`; tests keep them in step). The edited command of a replay is the
canonical command's own schema, `source` and `event_id` defaulting to the dead letter's.
`init_app` adds `describe` to the OpenAPI hooks of `bridge.web.openapi`.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask import Flask
from marshmallow import INCLUDE, Schema, fields, validate

from bridge.web.admin import DEFAULT_LIMIT, MAX_LIMIT, RETRY_AFTER
from bridge.web.openapi import HOOKS
from schemas.command import PermitCommand
from schemas.opscom import StatsResponse

SECURITY_SCHEME = "admin_bearer"
TAG = "admin"
ACTIONS = ["create", "update", "delete"]


class Attempt(Schema):
    """One call to OPS-COM (or try to make one) and what came of it."""

    class Meta:
        unknown = INCLUDE

    at = fields.DateTime(metadata={"description": "when (UTC)"})
    kind = fields.String(metadata={"description": "outcome kind, e.g. permanent, timeout"})
    http_status = fields.Integer(allow_none=True)
    error_code = fields.Integer(allow_none=True, metadata={"description": "OPS-COM ErrorCode"})
    error_message = fields.String(allow_none=True,
                                  metadata={"description": "OPS-COM ErrorMessage"})
    exception = fields.String(allow_none=True)
    retry_after = fields.Float(allow_none=True, metadata={"description": "seconds"})


class DeadLetter(Schema):
    """A message that will not be forwarded, with its reason; secrets scrubbed."""

    id = fields.String(required=True)
    reason = fields.String(required=True)
    error_code = fields.Integer(required=True, allow_none=True,
                                metadata={"description": "OPS-COM's ErrorCode, or null"})
    vendor = fields.String(required=True, allow_none=True)
    source = fields.String(required=True, allow_none=True)
    source_id = fields.String(required=True, allow_none=True)
    event_id = fields.String(required=True, allow_none=True)
    action = fields.String(required=True, allow_none=True,
                           validate=validate.OneOf([*ACTIONS, None]))
    attempts = fields.List(fields.Nested(Attempt), required=True)
    created_at = fields.DateTime(required=True)
    message = fields.Raw(required=True, allow_none=True,
                         metadata={"description": "the message as received"})
    command = fields.Dict(required=True, allow_none=True,
                          metadata={"description": "the command as translated, or null"})


class DeadLetterPage(Schema):
    items = fields.List(fields.Nested(DeadLetter), required=True)
    total = fields.Integer(required=True, metadata={"description": "matching, all pages"})


class DeadLetterFilter(Schema):
    """Which dead letters: every field optional, all given must match."""

    vendor = fields.String()
    error_code = fields.Integer(metadata={"description": "OPS-COM ErrorCode"})
    since = fields.DateTime(metadata={"description": "ISO 8601; no offset means UTC"})
    source = fields.String()
    permit = fields.String(metadata={"description": "the permit's source_id"})


class Page(Schema):
    limit = fields.Integer(validate=validate.Range(min=0), metadata={
        "default": DEFAULT_LIMIT, "description": f"at most {MAX_LIMIT}; more is cut to it"})
    offset = fields.Integer(validate=validate.Range(min=0), metadata={"default": 0})


class ReplayCounts(Schema):
    replayed = fields.Integer(required=True)
    adopted = fields.Integer(required=True)
    failed = fields.Integer(required=True)


class ReplayResult(Schema):
    replayed = fields.List(fields.String(), required=True, metadata={
        "description": "dead letters sent to the work queue again (and removed)"})
    adopted = fields.List(fields.String(), required=True, metadata={
        "description": "dead letters whose permit OPS-COM already had: recorded, removed"})
    failed = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"description": "dead-letter id: why it was not replayed"})
    counts = fields.Nested(ReplayCounts, required=True)


class Permit(Schema):
    """What the bridge knows of one permit."""

    source = fields.String(required=True)
    source_id = fields.String(required=True)
    reference_id = fields.String(required=True, allow_none=True,
                                 metadata={"description": "OPS-COM referenceID"})
    state = fields.String(required=True,
                          validate=validate.OneOf(["pending", "active", "deleted"]))
    waiting_on = fields.String(required=True, allow_none=True, metadata={
        "description": "event waiting for a retry; later events are held"})
    blocked_by = fields.String(required=True, allow_none=True, metadata={
        "description": "dead-lettered event holding up later ones"})
    updated_at = fields.DateTime(required=True, allow_none=True)


class AdminError(Schema):
    error = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "field: [messages]"})


SCHEMAS: dict[str, Any] = {
    "Attempt": Attempt, "DeadLetter": DeadLetter, "DeadLetterPage": DeadLetterPage,
    "DeadLetterFilter": DeadLetterFilter, "ReplayCounts": ReplayCounts,
    "ReplayResult": ReplayResult, "Permit": Permit, "AdminError": AdminError,
    "StatsResponse": StatsResponse,
    "EditedCommand": PermitCommand(partial=("source", "event_id")),
}


def _json(schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema}}, **extra}


ANSWERS: dict[str, dict[str, Any]] = {
    "400": _json("AdminError", "Query parameters invalid, or the body is not JSON"),
    "401": _json("Error", "Missing or wrong Bearer token (or BRIDGE_ADMIN_TOKEN not set)",
                 headers={"WWW-Authenticate": {"schema": {"type": "string"},
                                               "description": 'Bearer realm="opscom-admin"'}}),
    "404": _json("Error", "No such dead letter"),
    "422": _json("ValidationErrors", "The body does not validate"),
    "503": _json("Error", "RabbitMQ could not confirm the replay; retry later", headers={
        "Retry-After": {"description": f"seconds ({RETRY_AFTER})",
                        "schema": {"type": "integer"}}}),
}


def _answers(ok: dict[str, Any], *codes: str) -> dict[str, Any]:
    return {**ok, **{code: ANSWERS[code] for code in ("401", *codes)}}


def _op(summary: str, operation_id: str, responses: dict[str, Any],
        **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": [TAG], "operationId": operation_id,
            "security": [{SECURITY_SCHEME: []}], "responses": responses, **extra}


def _path_param(name: str, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            **({"description": description} if description else {})}


def _body(schema: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"required": required, "description": description,
            "content": {"application/json": {"schema": schema}}}


def describe(spec: APISpec) -> None:
    """Add the /admin paths, their schemas and the Bearer scheme to `spec`."""
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(SECURITY_SCHEME, {
        "type": "http", "scheme": "bearer",
        "description": "Authorization: Bearer <BRIDGE_ADMIN_TOKEN>"})
    one = [_path_param("dead_letter_id")]
    spec.path("/admin/dead-letters", operations={"get": _op(
        "List dead letters, newest first, filtered and paged", "admin_list_dead_letters",
        _answers({"200": _json("DeadLetterPage", "One page and the total matching")}, "400"),
        parameters=[{"in": "query", "schema": DeadLetterFilter},
                    {"in": "query", "schema": Page}])})
    spec.path("/admin/dead-letters/{dead_letter_id}", parameters=one, operations={
        "get": _op("One dead letter", "admin_show_dead_letter",
                   _answers({"200": _json("DeadLetter", "The dead letter")}, "404")),
        "delete": _op("Delete one dead letter", "admin_delete_dead_letter",
                      _answers({"204": {"description": "Deleted"}}, "404"))})
    spec.path("/admin/dead-letters/{dead_letter_id}/replay", parameters=one, operations={
        "post": _op("Replay one dead letter, as is or with an edited command",
                    "admin_replay_dead_letter",
                    _answers({"200": _json("ReplayResult", "What became of it")},
                             "400", "404", "422", "503"),
                    requestBody=_body("EditedCommand", "Optional edited command; none "
                                      "replays the command as translated"))})
    spec.path("/admin/dead-letters/replay", operations={"post": _op(
        "Replay every dead letter matching a filter (per permit, in order)",
        "admin_replay_dead_letters",
        _answers({"200": _json("ReplayResult", "What became of each")}, "400", "422", "503"),
        requestBody=_body("DeadLetterFilter", "Optional filter; none replays all"))})
    spec.path("/admin/permits/{source}/{source_id}", parameters=[
        _path_param("source"), _path_param("source_id", "may contain `/`")],
        operations={"get": _op("What the bridge knows of one permit", "admin_show_permit",
                               _answers({"200": _json("Permit", "The permit"),
                                         "404": _json("Error", "No such permit")}))})
    spec.path("/admin/stats", operations={"get": _op(
        "OPS-COM permit stats (Pull API)", "admin_stats",
        _answers({"200": _json("StatsResponse", "Counts per zone and permit type"),
                  "502": _json("Error", "OPS-COM not configured, or its stats call failed")}),
        parameters=[{"name": "zones", "in": "query", "required": False,
                     "schema": {"type": "string"},
                     "description": 'comma-separated, e.g. "Lot 01,Lot 02"'}])})


def init_app(app: Flask) -> None:
    """Describe /admin in /openapi.json (after `openapi.init_app`)."""
    app.extensions.setdefault(HOOKS, []).append(describe)
