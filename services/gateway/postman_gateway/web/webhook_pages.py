"""Settings > Webhooks: the officer's callbacks to their own systems (issue 16), the same calls as
``/v1/settings/webhooks`` (stats' ``ClientWebhookService``, keyed by the officer's user id): save a URL per kind (a new
webhook's secret is shown once, on the next page, never again), rotate the secret, send a test event, remove, and the
delivery log of each. Outcomes are said on the next page with fixed notices."""

from __future__ import annotations

from flask import make_response, redirect, request
from flask.typing import ResponseReturnValue

from postman.v1 import client_webhooks_pb2 as pb
from postman_gateway.api.client_webhooks import TEST_TIMEOUT_SECONDS
from postman_gateway.core import audit
from postman_gateway.core.backends import backends
from postman_gateway.web import formatting
from postman_gateway.web.pages import FormErrors, officer, render, signed_in_blueprint
from postman_shared.client_webhooks import KINDS, MAX_URL_LENGTH
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

KIND_NAMES = {"transactional": "Transactional message status", "campaign": "Campaign events"}
KIND_HINTS = {"transactional": "Each status of your transactional emails and SMS: accepted, sent, delivered, "
                               "opened, bounced, marked as spam, failed.",
              "campaign": "When a campaign starts sending, halts, and finishes, with its counts."}
NOTICES = {
    "saved": "The webhook was saved. It is active.",
    "removed": "The webhook was removed: no more events of this kind are sent.",
}
LOG_SIZE = 20

blueprint = signed_in_blueprint("webhook_settings", __name__, url_prefix="/settings/webhooks")
formatting.install(blueprint)


def _user_id() -> int:
    found = officer()
    assert found is not None  # require_officer
    return found.user_id


def _stub():  # type: ignore[no-untyped-def]
    return backends().client_webhooks


def _kind(kind: str) -> str:
    if kind not in KINDS:
        from flask import abort

        abort(404, description="There is no such kind of webhook.")
    return kind


def _secret_page(answer: pb.WebhookAnswer, title: str) -> ResponseReturnValue:
    # The secret is on this page and nowhere else; the response must not be kept by a cache.
    response = make_response(render("settings/webhook_secret.html", title=title, webhook=answer.webhook,
                                    secret=answer.secret, kind_name=KIND_NAMES[answer.webhook.kind]))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("")
def overview() -> ResponseReturnValue:
    found = {w.kind: w for w in client.call(_stub().ListWebhooks, pb.ListWebhooksRequest(user_id=_user_id())).webhooks}
    logs = {kind: list(client.call(_stub().ListWebhookAttempts, pb.WebhookAttemptsRequest(
        user_id=_user_id(), kind=kind, limit=LOG_SIZE)).attempts) for kind in found}
    return render("settings/webhooks.html", title="Webhooks", kinds=KINDS, names=KIND_NAMES, hints=KIND_HINTS,
                  webhooks=found, logs=logs, notice=NOTICES.get(request.args.get("done", "")), errors=FormErrors(),
                  values={}, tested=None)


@blueprint.post("/<kind>")
def save(kind: str) -> ResponseReturnValue:
    kind = _kind(kind)
    url = request.form.get(f"url-{kind}", "").strip()[:MAX_URL_LENGTH + 1]
    errors = FormErrors()
    if not url:
        errors.add(f"url-{kind}", "Enter the https address events are to be sent to")
    else:
        try:
            answer = client.call(_stub().PutWebhook, pb.PutWebhookRequest(user_id=_user_id(), kind=kind, url=url))
        except ServiceError as exc:
            if exc.http_status != 400:
                raise
            errors.add(f"url-{kind}", exc.message)
        else:
            audit.record("webhook.saved", "webhook", kind, {"created": answer.created})
            if answer.secret:
                return _secret_page(answer, "Your webhook's secret")
            return redirect(f"/settings/webhooks?done=saved#{kind}", code=303)
    found = {w.kind: w for w in client.call(_stub().ListWebhooks, pb.ListWebhooksRequest(user_id=_user_id())).webhooks}
    return render("settings/webhooks.html", 400, title="Webhooks", kinds=KINDS, names=KIND_NAMES, hints=KIND_HINTS,
                  webhooks=found, logs={}, notice=None, errors=errors, values={kind: url}, tested=None)


@blueprint.post("/<kind>/secret")
def rotate(kind: str) -> ResponseReturnValue:
    answer = client.call(_stub().RotateWebhookSecret, pb.WebhookRequest(user_id=_user_id(), kind=_kind(kind)))
    audit.record("webhook.secret_rotated", "webhook", kind)
    return _secret_page(answer, "Your webhook's new secret")


@blueprint.post("/<kind>/test")
def send_test(kind: str) -> ResponseReturnValue:
    tested = client.call(_stub().SendTestWebhookEvent, pb.WebhookRequest(user_id=_user_id(), kind=_kind(kind)),
                         timeout=TEST_TIMEOUT_SECONDS)
    found = {w.kind: w for w in client.call(_stub().ListWebhooks, pb.ListWebhooksRequest(user_id=_user_id())).webhooks}
    logs = {k: list(client.call(_stub().ListWebhookAttempts, pb.WebhookAttemptsRequest(
        user_id=_user_id(), kind=k, limit=LOG_SIZE)).attempts) for k in found}
    return render("settings/webhooks.html", title="Webhooks", kinds=KINDS, names=KIND_NAMES, hints=KIND_HINTS,
                  webhooks=found, logs=logs, notice=None, errors=FormErrors(), values={}, tested=tested)


@blueprint.route("/<kind>/remove", methods=["GET", "POST"])
def remove(kind: str) -> ResponseReturnValue:
    kind = _kind(kind)
    if request.method == "POST":
        client.call(_stub().DeleteWebhook, pb.WebhookRequest(user_id=_user_id(), kind=kind))
        audit.record("webhook.deleted", "webhook", kind)
        return redirect("/settings/webhooks?done=removed", code=303)
    return render("settings/confirm.html", title="Remove this webhook?",
                  intro=f"You are about to remove your webhook for {KIND_NAMES[kind].lower()}.",
                  consequence="Your system will no longer be told about these events; its delivery log goes too.",
                  action=f"/settings/webhooks/{kind}/remove", button="Remove")
