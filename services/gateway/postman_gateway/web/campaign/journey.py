"""The campaign journey in the browser: create a campaign (``create``), write its message (``template``), upload its
recipients (``recipients``), choose the Twilio account or Telegram bot (``credentials``), review the first message
and send, now or later (``review``), then follow its progress and outcomes (``sent``), duplicate it,
cancel a scheduled send, delete a draft (``lifecycle``). This module holds what the steps share: their blueprint
(``campaign``, under ``/campaigns``), the template filters that show a message, and the draft check.

Every step is a plain form that works without script; ``static/js/campaign-*.js`` add the live template preview and
SMS length, the upload progress bar, and the live progress of a send. The pages call the services as the API does,
as the signed-in officer, through the same shared functions (``api/channel_routes.py``) where the API has them, so a
rule (the send limit, the audit trail, the order of checks) holds whichever door a request came through. A service's
refusal is shown on the form beside the field it concerns; anything else a person might see is an HTML page that
says what happened, never a stack trace.
"""

from __future__ import annotations

from flask import current_app
from markupsafe import Markup
from werkzeug.wrappers import Response

from postman_gateway.web import SETTINGS, formatting
from postman_gateway.web.campaign.access import see_other
from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.pages import signed_in_blueprint
from postman_shared.email_html import clean_email_html
from postman_shared.settings import Settings
from postman_shared.telegram_bot import telegram_html

# No blueprint-wide body limit: the recipients page takes the file itself (as large as an upload may be).
blueprint = signed_in_blueprint("campaign", __name__, max_form_bytes=None, url_prefix="/campaigns")
formatting.install(blueprint)


@blueprint.app_template_filter("campaign_email_html")
def email_html(body: str) -> Markup:
    """An email body shown as HTML in the page, not escaped and not in an iframe. Safe because: the renderer made
    it from a template sanitised with the email allowlist (``postman_shared.email_html``: no script, style, event
    handler, form or iframe; links only http, https, mailto, tel) and HTML-escaped every recipient value; it is
    cleaned again here with the same allowlist, so the page does not rely on the renderer for its own safety; and
    the CSP (no inline script or style) stands behind both. An ``<iframe sandbox srcdoc>`` would add nothing: it
    inherits the same CSP, and only separates the styles, which the allowlist removes anyway."""
    return Markup(clean_email_html(body))  # noqa: S704 - sanitised just above, see the docstring


@blueprint.app_template_filter("campaign_telegram_html")
def telegram_markup(body: str) -> Markup:
    """A Telegram message shown with its formatting: reduced again to Telegram's few tags (bold, italic, links,
    code...), the same reasoning as ``email_html``; its markup is also shown as text beside it."""
    return Markup(telegram_html(body))  # noqa: S704 - reduced to Telegram's tags just above


def platform_settings() -> Settings:
    return current_app.extensions[SETTINGS]  # type: ignore[no-any-return]


def not_a_draft(view: CampaignView) -> Response | None:
    """The editing steps are for drafts; a sent or scheduled campaign shows its own page instead."""
    return None if view.is_draft else see_other(view.url)
