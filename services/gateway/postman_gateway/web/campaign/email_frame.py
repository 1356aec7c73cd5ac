"""The documents of the frames in which the campaign pages show an email as it arrives: in the theme of the
officer's agency, with its inline styles and logo, which a page's own policy forbids (``security.email_frame``).

- ``/campaigns/<id>/template/frame?t=<token>``: the template editor's unsaved template (``template_preview``), each
  key standing for its own value;
- ``/campaigns/<id>/review/frame``: the saved template with the first valid recipient's values (campaign
  ``PreviewEmail``), as the review page shows it before the send.

Each checks that the campaign is the officer's, like the pages around it.
"""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from markupsafe import escape

from postman_gateway.core.backends import backends
from postman_gateway.web import security
from postman_gateway.web.campaign import template_preview
from postman_gateway.web.campaign.access import campaign_ref, officer_campaign
from postman_gateway.web.pages import signed_in_blueprint
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

blueprint = signed_in_blueprint("email_frame", __name__, url_prefix="/campaigns")


def _words(message: str, status: int) -> ResponseReturnValue:
    """A frame that cannot show the email says why, in the frame."""
    return security.email_frame(f'<p style="font-family:Arial,Helvetica,sans-serif;">{escape(message)}</p>', status)


@blueprint.get("/<int:campaign_id>/template/frame")
def template_frame(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    unsaved = template_preview.read_frame_token(request.args.get("t", ""))
    if view.channel != "EMAIL" or unsaved is None:
        return _words("There is no email to show here.", 404)
    subject, body, show_logo = unsaved
    preview = template_preview.preview("EMAIL", subject, body, show_logo)
    if preview.error:
        return _words(f"The message cannot be previewed yet: {preview.error}", 400)
    return security.email_frame(preview.themed_body)


@blueprint.get("/<int:campaign_id>/review/frame")
def review_frame(campaign_id: int) -> ResponseReturnValue:
    ref = campaign_ref(campaign_id)
    try:
        preview = client.call(backends().campaign.PreviewEmail, ref)
    except ServiceError as exc:
        if exc.http_status != 400:
            raise
        return _words(exc.message, 400)
    return security.email_frame(preview.themed_body)
