"""The officers' web interface: server-rendered pages (Flask + Jinja) served by the gateway beside the API.

Every journey works with plain HTML forms; small vendored scripts in ``static/js`` (no build step, no inline script)
add live updates. Pages call the same services as the API, as the signed-in user of the session cookie.

Layout of this package:
- ``security.py``: headers on every gateway response (CSP without 'unsafe-inline', HSTS, frame denial, nosniff).
- ``csrf.py``: the CSRF token of every state-changing form, bound to the session.
- ``return_address.py``: the page to go back to after signing in (``next=``): a path on this site, never another.
- ``pages.py``: ``login_required``, ``render`` (base template context), ``FormErrors`` (the error summary).
- one module per area: ``sign_in_pages.py``, ``campaign/`` (the campaign journey, a module per step, with the
  campaign list, the page of a sent campaign and ``email_frame.py``: the framed email of its previews),
  ``settings_pages.py``, ``sender_pages.py`` (Settings > Sender addresses), ``suppression_pages.py``,
  ``saved_template_pages.py`` (saved templates: the list, editing, deleting, saving a campaign's message),
  ``dev_mailbox_pages.py`` (development only: the emails sender-email's ``EMAIL_TRANSPORT=outbox`` wrote, read by
  ``dev_mailbox_folder.py``), ``unsubscribe_pages.py``, ``protected_pages.py`` (recipients', signed out) and
  ``sender_confirm_pages.py`` (a sender address's confirmation link, signed out) — each a blueprint registered by
  ``install``.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask, redirect
from werkzeug.wrappers import Response

from postman_gateway.web import csrf, security
from postman_shared.settings import Settings

# Page modules, each with a ``blueprint``; a module that is not written yet is skipped.
PAGE_MODULES = ("sign_in_pages", "campaign.listing", "campaign", "campaign.email_frame", "campaign.sent",
                "settings_pages", "sender_pages", "sender_confirm_pages", "suppression_pages", "dev_mailbox_pages",
                "unsubscribe_pages", "protected_pages", "webhook_pages", "saved_template_pages")

SETTINGS = "postman_gateway.web.settings"  # app.extensions key: the settings the pages read (defaults, limits)

assets = Blueprint("web_assets", __name__, static_folder="static", static_url_path="/static")


def home() -> Response:
    return redirect("/campaigns")


def install(app: Flask, settings: Settings) -> None:
    security.install(app, settings)
    csrf.install(app, settings)
    app.config["SHOW_OUTBOX"] = settings.email_transport == "outbox"  # the development outbox page
    app.config["OUTBOX_DIR"] = str(settings.outbox_dir)  # where sender-email's outbox transport writes
    app.extensions[SETTINGS] = settings
    app.register_blueprint(assets)
    app.add_url_rule("/", "home", home)
    for name in PAGE_MODULES:
        try:
            module = importlib.import_module(f"postman_gateway.web.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"postman_gateway.web.{name}":
                raise
            continue
        app.register_blueprint(module.blueprint)
