"""Step 3 of the campaign journey: the recipients. The page takes the file (CSV, TSV, .xlsx or .ods) itself
(``recipient_upload`` stores it and starts the campaign service's check); its script polls the check's progress."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.core.backends import backends
from postman_gateway.core.request_context import current
from postman_gateway.web.campaign import recipient_upload
from postman_gateway.web.campaign.access import campaign_ref, officer_campaign, see_other
from postman_gateway.web.campaign.journey import blueprint, not_a_draft, platform_settings
from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

XHR = "XMLHttpRequest"  # the upload script's X-Requested-With: it wants JSON, not a redirect


def _upload_status(view: CampaignView) -> campaign_pb2.UploadStatus:
    ref = campaign_ref(view.id)
    ref.channel = view.channel
    return client.call(backends().campaign.GetUploadStatus, ref)  # type: ignore[no-any-return]


def _next_step_after_recipients(view: CampaignView) -> str:
    return f"{view.url}/credentials" if view.needs_credential else f"{view.url}/review"


@blueprint.route("/<int:campaign_id>/recipients", methods=["GET", "POST"])
def recipients(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    if (elsewhere := not_a_draft(view)) is not None:
        return elsewhere
    errors = FormErrors()
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            errors.add("file", "Choose a file of recipients to upload (a spreadsheet or a CSV file)")
        else:
            try:
                recipient_upload.upload(view.campaign, current().user_id, file.stream, file.filename,
                                        platform_settings().max_upload_bytes)
            except ServiceError as exc:
                if exc.http_status not in (400, 403, 413):
                    raise
                errors.add("file", exc.message)
        if request.headers.get("X-Requested-With") == XHR:
            if errors:
                return jsonify(error=errors.get("file")), 400
            return jsonify(status_url=f"{view.url}/recipients/status", page_url=f"{view.url}/recipients"), 202
        if not errors:
            return see_other(f"{view.url}/recipients")
    status = _upload_status(view)
    if not status.is_csv_processing:
        # Read again after the status: a check that ended between the two reads must show its recipients.
        view = officer_campaign(campaign_id)
    # While a new file is being checked, the error of the one before it is not news: the page says "Checking".
    if status.csv_error and not errors and not status.is_csv_processing:
        errors.add("file", status.csv_error)
    page = "campaign/recipients_protected.html" if view.campaign.protect else "campaign/recipients.html"
    return render(page, 400 if request.method == "POST" and errors else 200,
                  title="Upload the recipients", errors=errors, campaign=view, upload=status,
                  next_step=_next_step_after_recipients(view),
                  max_upload_mb=platform_settings().max_upload_bytes // 2**20)


@blueprint.get("/<int:campaign_id>/recipients/status")
def recipients_status(campaign_id: int) -> ResponseReturnValue:
    """The upload's progress for the page's script (it polls this until the file is checked)."""
    view = officer_campaign(campaign_id)
    status = _upload_status(view)
    return jsonify(processing=status.is_csv_processing, rows_processed=status.rows_processed,
                   filename=status.temp_csv_filename or status.csv_filename, error=status.csv_error,
                   num_recipients=status.num_recipients)
