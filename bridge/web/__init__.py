"""The HTTP app: vendor webhooks, health, metrics, OpenAPI (and, from the lead, /admin, /ui)."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.engine import Engine

from bridge import db
from bridge.settings import Settings
from bridge.web import admin, admin_openapi, health, openapi, ui, webhooks
from bridge.web.dedupe import Dedupe
from bridge.web.metrics import Metrics
from bridge.web.state import KEY, CommandPublisher, WebState
from bridge.web.vendors import build_registry

log = logging.getLogger(__name__)


def create_app(settings: Settings, publisher: CommandPublisher | None = None,
               engine: Engine | None = None) -> Flask:
    """Build the app. Vendors are compiled first, so a broken BRIDGE_CONFIG stops here.

    `publisher` and `engine` may be injected (tests); by default the app opens its
    own confirmed publisher on AMQP_URL and its database on DATABASE_URL.
    """
    vendors = build_registry(settings)
    engine = engine or db.connect(settings.database_url.reveal())
    if publisher is None:
        from bridge.publisher import Publisher

        publisher = Publisher(settings.amqp_url.reveal(), settings.partitions,
                              settings.confirm_timeout)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[KEY] = WebState(settings, vendors, publisher, engine,
                                   Dedupe(engine, settings.dedupe_days), Metrics())
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    openapi.init_app(app)
    # --- /admin and /ui blueprints: the lead registers them here ---------------------
    ops = admin.build_ops(settings, engine, publisher)
    app.register_blueprint(admin.admin_blueprint(ops))
    admin_openapi.init_app(app)
    app.register_blueprint(ui.ui_blueprint(ops))
    return app
