"""The gateway's Flask app: the public API under ``/v1``, the pages, the local upload PUT, Telegram's webhook
(``/metrics`` is not here: ``bootstrap`` serves it on the metrics port).

Every route of the ``v1`` blueprint passes the authentication check (an API key or a session cookie) and the
per-user API limit before its view runs; only ``/v1/ping``, ``/v1/openapi.json``, ``/v1/auth/otp``,
``/v1/auth/login``, upstream's ``/v1/unsubscribe/...`` and ``/v1/protect/{id}`` (each with its own check) sit outside
it. A route added to one of the ``v1`` blueprints is therefore protected without
remembering to be.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from postman_gateway import openapi, web
from postman_gateway.api import (
    api_keys,
    campaigns,
    client_webhooks,
    email,
    protected,
    saved_templates,
    senders,
    signin,
    sms,
    telegram,
    transactional_email,
    transactional_sms,
    unsubscribe,
    unsubscribing,
    uploads,
)
from postman_gateway.callbacks import ses_events, telegram_webhook, twilio
from postman_gateway.core import body_limits, cache_control, export_slots, limiting, observability
from postman_gateway.core.auth import authenticate, clear_rejected_cookie
from postman_gateway.core.backends import EXTENSION as BACKENDS
from postman_gateway.core.backends import Backends
from postman_gateway.core.errors import register_error_handlers
from postman_gateway.core.rate_limits import GatewayLimits, LimitStore, store_from_settings
from postman_gateway.core.sessions import EXTENSION as COOKIE_POLICY
from postman_gateway.core.sessions import CookiePolicy
from postman_shared.object_store import LocalObjectStore, object_store_from_settings
from postman_shared.settings import Settings

# app.extensions[HEALTH]: whether the process serves (``GatewayServer`` gives the runtime's answer; an app made without
# a server, as in most tests, always serves).
HEALTH = "postman_gateway.health"


def ping() -> Response:
    """The probe (readiness and liveness) and upstream's ping: 503 from the start of a stop, and for good once a part
    of the process died, so that the load balancer stops sending requests here."""
    if not current_app.extensions.get(HEALTH, lambda: True)():
        return Response("not serving", status=503, mimetype="text/plain")
    return Response("pong", mimetype="text/plain")


def create_app(settings: Settings, limit_store: LimitStore | None = None) -> Flask:
    """The app on ``settings``. ``limit_store`` defaults to the one ``REDIS_URL`` selects (tests pass their own,
    to isolate their counters)."""
    app = Flask("postman_gateway", static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's field order
    # First hook registered, so it runs last and sees every cookie the other hooks set.
    cache_control.install(app)
    app.extensions[BACKENDS] = Backends.from_settings(settings)
    app.extensions[COOKIE_POLICY] = CookiePolicy.from_settings(settings)
    limiting.install(app, GatewayLimits.from_settings(settings), limit_store or store_from_settings(settings))
    observability.install(app)
    register_error_handlers(app)
    app.after_request(clear_rejected_cookie)

    public = Blueprint("public", __name__, url_prefix="/v1")
    public.add_url_rule("/ping", "ping", ping, methods=["GET"])
    public.register_blueprint(signin.public_blueprint)
    # Upstream's unsubscribe API: no key, the link's signature (h, v) is checked instead.
    unsubscribing.install(app, settings)
    public.register_blueprint(unsubscribe.blueprint)
    # A recipient's page opening their password-protected message: no key, the password's proof is checked.
    public.register_blueprint(protected.blueprint)
    # /v1/openapi.json (on the public blueprint: no key) and the /docs page rendered from it.
    openapi.install(app, public, local_uploads=settings.object_store == "local")
    app.register_blueprint(public)

    v1 = Blueprint("v1", __name__, url_prefix="/v1")
    v1.before_request(authenticate)
    v1.register_blueprint(signin.blueprint)
    v1.register_blueprint(api_keys.blueprint)
    v1.register_blueprint(senders.blueprint)  # /v1/settings/email/from: session only, like /v1/api-key
    senders.install(app, settings)
    v1.register_blueprint(client_webhooks.blueprint)  # /v1/settings/webhooks: session or API key
    v1.register_blueprint(campaigns.blueprint)
    v1.register_blueprint(email.blueprint)
    v1.register_blueprint(sms.blueprint)
    v1.register_blueprint(telegram.blueprint)
    v1.register_blueprint(saved_templates.blueprint)  # /v1/templates: an extension of v1 (issue 18)
    v1.register_blueprint(transactional_sms.blueprint)
    v1.register_blueprint(transactional_email.blueprint)
    app.register_blueprint(v1)
    # Telegram's webhook: no API key, the bot's secret token header is checked instead.
    telegram_webhook.install(app, settings)
    # Twilio's status callbacks: no API key, the URL's own signature is checked instead.
    twilio.install(app, settings)
    # SES's events through SNS: no API key, SNS's signature and an allowed topic are checked instead.
    ses_events.install(app, settings)
    web.install(app, settings)  # the officers' pages (and the security headers of every response)

    if settings.trusted_proxies:
        # Behind a load balancer the peer is the proxy: take the client from the last N X-Forwarded-For hops only.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    if settings.object_store == "local":
        store = object_store_from_settings(settings)
        assert isinstance(store, LocalObjectStore)
        app.extensions[uploads.EXTENSION] = (settings, store)
        app.register_blueprint(uploads.blueprint)
    # Last: each route's body limit, known from the request line and headers (waitress applies it before reading).
    body_limits.install(app, settings)
    export_slots.install(app, settings)  # EXPORTS_PER_USER: exports cannot take every request thread
    return app
