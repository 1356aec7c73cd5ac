"""The gateway's Flask app: the public API under ``/v1``, the local upload PUT, ``/metrics``.

Every route of the ``v1`` blueprint passes the API key check before its view runs; only ``/v1/ping`` sits outside
it. A route added to ``campaigns_api`` or ``email_api`` is therefore protected without remembering to be.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from postman_gateway import campaigns_api, email_api, observability, uploads_api
from postman_gateway.auth import require_api_key
from postman_gateway.backends import EXTENSION as BACKENDS
from postman_gateway.backends import Backends
from postman_gateway.errors import register_error_handlers
from postman_shared.object_store import LocalObjectStore, object_store_from_settings
from postman_shared.settings import Settings


def ping() -> Response:
    return Response("pong", mimetype="text/plain")


def create_app(settings: Settings) -> Flask:
    app = Flask("postman_gateway", static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's field order
    app.extensions[BACKENDS] = Backends.from_settings(settings)
    observability.install(app)
    register_error_handlers(app)

    public = Blueprint("public", __name__, url_prefix="/v1")
    public.add_url_rule("/ping", "ping", ping, methods=["GET"])
    app.register_blueprint(public)

    v1 = Blueprint("v1", __name__, url_prefix="/v1")
    v1.before_request(require_api_key)
    v1.register_blueprint(campaigns_api.blueprint)
    v1.register_blueprint(email_api.blueprint)
    app.register_blueprint(v1)

    if settings.object_store == "local":
        store = object_store_from_settings(settings)
        assert isinstance(store, LocalObjectStore)
        app.extensions[uploads_api.EXTENSION] = (settings, store)
        app.register_blueprint(uploads_api.blueprint)
    return app
