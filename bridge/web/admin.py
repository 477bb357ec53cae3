"""The /admin JSON API: dead letters (list, inspect, replay, delete), permits, OPS-COM stats.

Every route needs `Authorization: Bearer <BRIDGE_ADMIN_TOKEN>`; without an admin token
configured the API answers 401 to everyone. Dependencies come in one `Ops` object
(built by `build_ops` in create_app, or by hand in tests) so the blueprint holds no
globals: `app.register_blueprint(admin_blueprint(ops))`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.engine import Engine

from bridge.deadletters import DeadLetters, Filter
from bridge.errors import BrokerUnavailable, SettingsError
from bridge.opscom import OpsComClient, OutcomeKind
from bridge.publisher import Publisher
from bridge.replay import Replayer
from bridge.secret import Secret, redact
from bridge.settings import Settings
from bridge.store import Store
from schemas.command import load_command

#: Largest page `GET /admin/dead-letters` returns; a larger `limit` is cut to this.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: Seconds a client should wait before retrying when RabbitMQ cannot confirm.
RETRY_AFTER = 5
FILTER_FIELDS = ("vendor", "error_code", "since", "source", "permit")
PERMIT_FIELDS = ("source", "source_id", "reference_id", "state", "waiting_on", "blocked_by",
                 "updated_at")


@dataclass
class Ops:
    """What the admin API and the UI work with; `publisher` may be absent (no replay)."""

    settings: Settings
    engine: Engine
    dead: DeadLetters
    store: Store
    publisher: Any = None
    opscom_factory: Callable[[Settings], OpsComClient] = OpsComClient.from_settings
    _opscom: OpsComClient | None = field(default=None, repr=False)

    @property
    def admin_token(self) -> Secret | None:
        return self.settings.admin_token

    def replayer(self) -> Replayer:
        if self.publisher is None:
            raise BrokerUnavailable("no RabbitMQ publisher in this process")
        return Replayer(self.dead, self.store, cast(Publisher, self.publisher))

    def opscom(self) -> OpsComClient:
        """The OPS-COM client, made on first use (one per process)."""
        if self._opscom is None:
            self._opscom = self.opscom_factory(self.settings)
        return self._opscom


def build_ops(settings: Settings, engine: Engine, publisher: Any = None) -> Ops:
    """The usual wiring: dead letters and store on `engine`, secrets scrubbed."""
    return Ops(settings, engine, DeadLetters(engine, settings.secrets()), Store(engine),
               publisher)


def token_ok(expected: Secret | None, given: str | None) -> bool:
    """Constant-time comparison; no admin token configured means nobody gets in."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.reveal().encode(), given.encode())


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value."""
    kind, _, token = (authorization or "").partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def parse_time(text: str) -> datetime:
    """ISO 8601 (date, or date and time with an optional offset or Z); naive means UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filter_from(values: Mapping[str, Any]) -> Filter:
    """A Filter from query parameters or a JSON body; ValidationError names bad fields."""
    errors: dict[str, list[str]] = {}
    unknown = [k for k in values if k not in FILTER_FIELDS]
    for key in unknown:
        errors[key] = ["Unknown field."]
    found: dict[str, Any] = {}
    for key in ("vendor", "source", "permit"):
        value = values.get(key)
        if value not in (None, ""):
            if isinstance(value, str):
                found[key] = value
            else:
                errors[key] = ["Not a valid string."]
    code = values.get("error_code")
    if code not in (None, ""):
        try:
            found["error_code"] = int(code)
        except (TypeError, ValueError):
            errors["error_code"] = ["Not a valid integer."]
    since = values.get("since")
    if since not in (None, ""):
        try:
            found["since"] = parse_time(str(since))
        except ValueError:
            errors["since"] = ["Not a valid ISO 8601 date-time."]
    if errors:
        raise ValidationError(errors)
    return Filter(**found)


def validate_edit(record: dict[str, Any], edited: Any) -> None:
    """Check what a replay would send, the way Replayer loads it; ValidationError if bad."""
    if edited is not None and not isinstance(edited, dict):
        raise ValidationError({"_schema": ["The edited command must be a JSON object."]})
    raw = edited if edited is not None else record["command"]
    if raw is None:
        raise ValidationError({"command": ["This message never became a command; "
                                           "replay it with an edited command."]})
    raw = dict(raw)
    raw.setdefault("event_id", record.get("event_id"))
    raw.setdefault("source", record.get("source"))
    load_command(raw)


def result_body(result: Any) -> dict[str, Any]:
    body = result.as_dict()
    body["counts"] = {k: len(v) for k, v in body.items()}
    return body


def admin_blueprint(ops: Ops) -> Blueprint:
    """The /admin blueprint working on `ops`."""
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    @bp.before_request
    def _authenticate() -> tuple[Response, int, dict[str, str]] | None:
        if token_ok(ops.admin_token, bearer(request.headers.get("Authorization"))):
            return None
        problem = ("the admin API is disabled: BRIDGE_ADMIN_TOKEN is not set"
                   if not ops.admin_token else "missing or wrong Bearer token")
        return jsonify(error=problem), 401, {"WWW-Authenticate": 'Bearer realm="opscom-admin"'}

    @bp.get("/dead-letters")
    def list_dead_letters() -> Any:
        query = request.args.to_dict()
        try:
            limit, offset = _page(query.pop("limit", None), query.pop("offset", None))
            where = filter_from(query)
        except ValidationError as exc:
            return jsonify(error="invalid query parameters", errors=exc.messages), 400
        items, total = ops.dead.list(where, limit=limit, offset=offset)
        return jsonify(items=items, total=total)

    @bp.get("/dead-letters/<dead_letter_id>")
    def show_dead_letter(dead_letter_id: str) -> Any:
        record = ops.dead.get(dead_letter_id)
        return jsonify(record) if record else _not_found()

    @bp.post("/dead-letters/<dead_letter_id>/replay")
    def replay_one(dead_letter_id: str) -> Any:
        record = ops.dead.get(dead_letter_id)
        if record is None:
            return _not_found()
        try:
            edited = _json_body()
            validate_edit(record, edited)
        except _BadJson as exc:
            return jsonify(error=str(exc)), 400
        except ValidationError as exc:
            return jsonify(errors=exc.messages), 422
        result = _replay(lambda: ops.replayer().replay_one(dead_letter_id, edited))
        if isinstance(result, tuple):
            return result
        if result.failed.get(dead_letter_id) == "no such dead letter":
            return _not_found()
        return jsonify(result_body(result))

    @bp.post("/dead-letters/replay")
    def replay_many() -> Any:
        try:
            body = _json_body() or {}
            if not isinstance(body, dict):
                raise ValidationError({"_schema": ["The filter must be a JSON object."]})
            where = filter_from(body)
        except _BadJson as exc:
            return jsonify(error=str(exc)), 400
        except ValidationError as exc:
            return jsonify(errors=exc.messages), 422
        result = _replay(lambda: ops.replayer().replay_many(where))
        return result if isinstance(result, tuple) else jsonify(result_body(result))

    @bp.delete("/dead-letters/<dead_letter_id>")
    def delete_dead_letter(dead_letter_id: str) -> Any:
        return ("", 204) if ops.dead.remove(dead_letter_id) else _not_found()

    @bp.get("/permits/<source>/<path:source_id>")
    def show_permit(source: str, source_id: str) -> Any:
        row = ops.store.permit(source, source_id)
        if row is None:
            return jsonify(error="no such permit"), 404
        found = {name: row[name] for name in PERMIT_FIELDS}
        if isinstance(found["updated_at"], datetime):
            found["updated_at"] = found["updated_at"].isoformat()
        return jsonify(found)

    @bp.get("/stats")
    def stats() -> Any:
        zones = request.args.get("zones") or None
        ok, rows, problem = fetch_stats(ops, zones)
        if not ok:
            return jsonify(error=problem), 502
        return jsonify(data=rows)

    return bp


def fetch_stats(ops: Ops, zones: str | None) -> tuple[bool, list[dict[str, Any]], str]:
    """(ok, rows, problem) of an OPS-COM stats call; the problem text holds no secret."""
    try:
        outcome = ops.opscom().stats(zones)
    except SettingsError as exc:
        return False, [], f"OPS-COM is not configured: {exc}"
    if outcome.kind is not OutcomeKind.SUCCESS:
        text = redact(outcome.describe(), ops.settings.secrets())
        return False, [], f"OPS-COM stats failed: {text}"
    return True, list(outcome.data or ()), ""


class _BadJson(ValueError):
    """The request body is not JSON."""

def _json_body() -> Any:
    """The parsed JSON body, None when there is none; _BadJson when it does not parse."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _BadJson("the body is not JSON") from None


def _page(limit: str | None, offset: str | None) -> tuple[int, int]:
    """(limit, offset) from query strings; a limit over MAX_LIMIT is cut to it."""
    try:
        values = [int(limit or DEFAULT_LIMIT), int(offset or 0)]
    except ValueError:
        values = [-1]
    if min(values) < 0:
        raise ValidationError({"limit": ["limit and offset must be whole numbers, 0 or more."]})
    return min(values[0], MAX_LIMIT), values[1]


def _replay(run: Callable[[], Any]) -> Any:
    """Run a replay; RabbitMQ not confirming becomes 503 with Retry-After."""
    try:
        return run()
    except BrokerUnavailable as exc:
        body = jsonify(error=f"RabbitMQ could not confirm the replay: {exc}")
        return body, 503, {"Retry-After": str(RETRY_AFTER)}


def _not_found() -> tuple[Response, int]:
    return jsonify(error="no such dead letter"), 404
