"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridge.web.state import state

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Alive: answers without touching RabbitMQ or the database."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready only when RabbitMQ and the database both answer."""
    checks = {"rabbitmq": _broker_ok(), "database": _database_ok()}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    return Response(_render_metrics(), mimetype="text/plain; version=0.0.4")


def _render_metrics() -> bytes:
    """Every gunicorn worker's values when they share PROMETHEUS_MULTIPROC_DIR (`web`),
    else this app's own registry (the app in-process, e.g. in tests)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return state().metrics.render()
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def _broker_ok() -> bool:
    try:
        return bool(state().publisher.ping())
    except Exception:  # readiness must answer, whatever the publisher does
        log.exception("RabbitMQ readiness check failed")
        return False


def _database_ok() -> bool:
    try:
        with state().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as exc:
        log.warning("database readiness check failed: %s", type(exc).__name__)
        return False
