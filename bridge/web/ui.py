"""/ui/: server-rendered operations pages: dead letters (filter, inspect, edit and replay,
purge) and pipeline health.

Sign-in is the admin token, typed once into a login form; the answer is an HttpOnly,
SameSite=Strict cookie holding a signed, expiring session (no server-side state, so any
web replica accepts it; changing BRIDGE_ADMIN_TOKEN signs everyone out). Because a
cookie authenticates, every form that changes something carries a CSRF token derived
from the session. `Authorization: Bearer <token>` works too (scripts), without CSRF.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import time
from typing import Any

import pika
import pika.exceptions
from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from bridge import topology
from bridge.deadletters import Filter
from bridge.errors import BrokerUnavailable
from bridge.secret import redact
from bridge.web.admin import (
    FILTER_FIELDS,
    Ops,
    bearer,
    fetch_stats,
    filter_from,
    token_ok,
    validate_edit,
)

COOKIE = "opscom_ui"
#: Seconds a UI sign-in lasts.
SESSION_SECONDS = 12 * 3600
PAGE = 50
OPEN = ("ui.login", "ui.static")
NOTICES = {"replayed": "Replayed {n} dead letter(s).", "deleted": "Deleted the dead letter.",
           "purged": "Purged {n} dead letter(s).", "adopted": "Adopted the reference; "
           "the dead letter is resolved.", "failed": "{n} dead letter(s) could not be replayed."}


def _sign(ops: Ops, text: str) -> str:
    key = ops.admin_token.reveal().encode() if ops.admin_token else b""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def new_session(ops: Ops) -> str:
    body = f"{int(time.time())}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_sign(ops, 'ui-session:' + body)}"


def session_nonce(ops: Ops, cookie: str | None) -> str | None:
    """The nonce of a valid, unexpired session cookie, else None."""
    if not ops.admin_token or not cookie or cookie.count(".") != 2:
        return None
    issued, nonce, mac = cookie.split(".")
    if not hmac.compare_digest(mac, _sign(ops, f"ui-session:{issued}.{nonce}")):
        return None
    age = time.time() - int(issued) if issued.isdigit() else -1
    return nonce if 0 <= age <= SESSION_SECONDS else None


def csrf_token(ops: Ops, nonce: str) -> str:
    return _sign(ops, f"ui-csrf:{nonce}")


def ui_blueprint(ops: Ops) -> Blueprint:
    """The /ui blueprint working on `ops` (the same object as the admin API's)."""
    bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates",
                   static_folder="static", static_url_path="/static")

    @bp.before_request
    def _authenticate() -> Any:
        if request.endpoint in OPEN:
            return None
        by_bearer = token_ok(ops.admin_token, bearer(request.headers.get("Authorization")))
        nonce = "bearer" if by_bearer else session_nonce(ops, request.cookies.get(COOKIE))
        if nonce is None:
            if request.method == "GET":
                return redirect(url_for("ui.login", next=request.full_path))
            return _page("ui_message.html", 401, title="Sign in first",
                         text="Your session ended; sign in again.")
        g.csrf = csrf_token(ops, nonce)
        if request.method == "POST" and not by_bearer:
            given = request.form.get("csrf_token", "")
            if not hmac.compare_digest(given.encode(), g.csrf.encode()):
                return _page("ui_message.html", 403, title="Refused",
                             text="The form's CSRF token is missing or wrong; reload the page.")
        return None

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = request.values.get("next", "")
        target = target if target.startswith("/ui/") and "//" not in target else url_for("ui.index")
        if request.method == "GET":
            return _page("ui_login.html", 200, next=target, error=None)
        if not token_ok(ops.admin_token, request.form.get("token", "")):
            error = ("BRIDGE_ADMIN_TOKEN is not set: the UI is disabled" if not ops.admin_token
                     else "Wrong admin token.")
            return _page("ui_login.html", 401, next=target, error=error)
        answer = redirect(target, 303)
        answer.set_cookie(COOKIE, new_session(ops), max_age=SESSION_SECONDS, httponly=True,
                          samesite="Strict", secure=request.is_secure, path="/ui")
        return answer

    @bp.post("/logout")
    def logout() -> Any:
        answer = redirect(url_for("ui.login"), 303)
        answer.delete_cookie(COOKIE, path="/ui")
        return answer

    @bp.get("/")
    def index() -> Any:
        values = {k: v for k, v in request.args.items() if k in FILTER_FIELDS and v}
        offset = max(0, _int(request.args.get("offset"), 0))
        try:
            where, problem = filter_from(values), None
        except ValidationError as exc:
            where, problem = Filter(), exc.messages
        items, total = ops.dead.list(where, limit=PAGE, offset=offset)
        done = request.args.get("done")
        notice = NOTICES[done].format(n=_int(request.args.get("n"), 0)) if done in NOTICES \
            else None
        return _page("ui_list.html", 400 if problem else 200, items=items, total=total,
                     filters=values, problem=problem, offset=offset, page=PAGE, notice=notice)

    @bp.get("/dead-letters/<dead_letter_id>")
    def detail(dead_letter_id: str) -> Any:
        return _detail(ops, dead_letter_id, 200)

    @bp.post("/dead-letters/<dead_letter_id>/replay")
    def replay(dead_letter_id: str) -> Any:
        record = ops.dead.get(dead_letter_id) or abort(404)
        text = request.form.get("command")
        edited = None
        try:
            if text is not None:
                edited = json.loads(text)
            validate_edit(record, edited)
            result = ops.replayer().replay_one(dead_letter_id, edited)
        except ValueError as exc:  # JSONDecodeError
            return _detail(ops, dead_letter_id, 422, text, {"command": [f"Not JSON: {exc}"]})
        except ValidationError as exc:
            return _detail(ops, dead_letter_id, 422, text, exc.messages)
        except BrokerUnavailable as exc:
            return _detail(ops, dead_letter_id, 503, text,
                           {"RabbitMQ": [f"could not confirm the replay: {exc}"]})
        if result.failed:
            return _detail(ops, dead_letter_id, 422, text, {"replay": list(result.failed.values())})
        return _back("adopted" if result.adopted else "replayed", 1)

    @bp.post("/dead-letters/<dead_letter_id>/delete")
    def delete(dead_letter_id: str) -> Any:
        return _back("deleted", 1) if ops.dead.remove(dead_letter_id) else abort(404)

    @bp.post("/dead-letters/replay")
    def replay_matching() -> Any:
        where = _form_filter()
        try:
            result = ops.replayer().replay_many(where)
        except BrokerUnavailable as exc:
            return _page("ui_message.html", 503, title="RabbitMQ could not confirm",
                         text=f"Stopped: {exc}. Dead letters not replayed are still listed.")
        if result.failed:
            return _back("failed", len(result.failed))
        return _back("replayed", len(result.replayed) + len(result.adopted))

    @bp.post("/dead-letters/purge")
    def purge() -> Any:
        if request.form.get("confirm") != "yes":
            return _page("ui_message.html", 400, title="Not purged",
                         text="Tick the confirmation box to purge dead letters.")
        return _back("purged", ops.dead.purge(_form_filter()))

    @bp.get("/health")
    def health() -> Any:
        report = collect_health(ops, check_opscom=request.args.get("check") == "opscom")
        return _page("ui_health.html", 200, report=report)

    @bp.errorhandler(404)
    def _not_found(_exc: Exception) -> Any:
        return _page("ui_message.html", 404, title="Not found",
                     text="No such dead letter (already replayed or deleted?).")

    return bp


def collect_health(ops: Ops, check_opscom: bool = False) -> dict[str, Any]:
    """Database, RabbitMQ queue depths, dead letters, and OPS-COM when asked (a stats call)."""
    report: dict[str, Any] = {"dead_letters": None, "opscom": None, "circuit": _circuit()}
    try:
        ops.store.ping()
        report["database"] = "reachable"
        report["dead_letters"] = ops.dead.list(limit=0)[1]
    except SQLAlchemyError as exc:
        report["database"] = f"unreachable ({type(exc).__name__})"
    report["queues"], report["rabbitmq"] = queue_depths(ops)
    if check_opscom:
        ok, rows, problem = fetch_stats(ops, None)
        report["opscom"] = f"answered a stats call ({len(rows)} rows)" if ok else problem
    return report


def queue_depths(ops: Ops) -> tuple[list[dict[str, Any]], str]:
    """Messages and consumers of every opscom.* queue (passive declares create nothing)."""
    params = pika.URLParameters(ops.settings.amqp_url.reveal())
    params.socket_timeout = params.blocked_connection_timeout = 3
    params.connection_attempts = 1
    try:
        conn = pika.BlockingConnection(params)
    except (pika.exceptions.AMQPError, OSError) as exc:
        text = redact(f"{type(exc).__name__}: {exc}", ops.settings.secrets())
        return [], f"unreachable at {ops.settings.amqp_url_for_display()} ({text})"
    rows: list[dict[str, Any]] = []
    try:
        channel = conn.channel()
        for queue in topology.build(ops.settings).queues:
            try:
                found = channel.queue_declare(str(queue.name), passive=True).method
                rows.append({"name": queue.name, "messages": found.message_count,
                             "consumers": found.consumer_count})
            except pika.exceptions.ChannelClosedByBroker:  # 404: not declared
                rows.append({"name": queue.name, "messages": None, "consumers": None})
                channel = conn.channel()
    finally:
        conn.close()
    return rows, "reachable"


def _circuit() -> str | None:
    """The circuit breaker of a worker in this process (`opscom-bridge run`), if any."""
    if "bridge.worker" not in sys.modules:
        return None
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("opscom_bridge_circuit_open")
    return "open: OPS-COM calls are paused" if value else "closed"


def _detail(ops: Ops, dead_letter_id: str, status: int, text: str | None = None,
            errors: Any = None) -> Any:
    record = ops.dead.get(dead_letter_id) or abort(404)
    permit = None
    if record.get("source") and record.get("source_id"):
        permit = ops.store.permit(record["source"], record["source_id"])
    if text is None:
        text = json.dumps(record["command"], indent=2) if record["command"] else ""
    shown_errors = redact(json.dumps(errors, indent=2), ops.settings.secrets()) if errors else None
    return _page("ui_detail.html", status, item=record, permit=permit, text=text,
                 errors=shown_errors, message=json.dumps(record["message"], indent=2),
                 command=json.dumps(record["command"], indent=2))


def _form_filter() -> Filter:
    values = {k: v for k, v in request.form.items() if k in FILTER_FIELDS and v}
    try:
        return filter_from(values)
    except ValidationError:
        abort(400)


def _back(done: str, n: int) -> Response:
    return redirect(url_for("ui.index", done=done, n=n), 303)


def _page(template: str, status: int, **context: Any) -> tuple[str, int]:
    return render_template(template, csrf=g.get("csrf"), **context), status


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default
