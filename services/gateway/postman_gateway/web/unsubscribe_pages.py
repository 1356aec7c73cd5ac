"""The page a recipient's unsubscribe link opens, and the one-click unsubscribe of RFC 8058.

``GET /unsubscribe/<campaign>/<recipient>?v=…&h=…`` checks the link (``unsubscribing.py``) and asks the recipient to
confirm, with an optional reason; it never unsubscribes by itself, because mail scanners and link previews open
links. The confirmation is a form POST to the same URL (with a CSRF token bound to a pre-session cookie); the page
that follows says it is done and offers to undo it (subscribe again).

Mail clients' unsubscribe buttons ``POST`` the ``List-Unsubscribe`` URL with the body
``List-Unsubscribe=One-Click`` and no cookies: that request records the unsubscribe and answers with a line of text,
no page. A link Postman did not make, or one that was altered, gets a plain refusal (400) and changes nothing.
The page is server-rendered under the site's CSP: no inline script or style.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from postman.v1 import suppression_pb2
from postman_gateway.api import unsubscribing
from postman_gateway.web import csrf
from postman_gateway.web.pages import FormErrors, install_error_pages, render

MAX_FORM_BYTES = 4096
ONE_CLICK = "One-Click"
# The reasons offered (what is stored is the label; "other" adds what the recipient wrote).
REASONS = (
    ("not_wanted", "I no longer want to receive these emails"),
    ("not_relevant", "The emails are not relevant to me"),
    ("too_many", "I receive too many emails"),
    ("never_signed_up", "I never signed up for these emails"),
    ("other", "Another reason"),
)
MAX_OTHER = 400
REASON_OPTIONS = [(f"reason-{value}", value, label, "") for value, label in REASONS]  # the radios macro's shape

blueprint = Blueprint("unsubscribe", __name__, template_folder="templates")
install_error_pages(blueprint)


@blueprint.before_request
def limit_form_size() -> None:
    request.max_content_length = MAX_FORM_BYTES  # a form here is a few short fields


def _link(campaign_id: int, recipient: str) -> str:
    """This page's own URL, query included: the form posts back to it."""
    return request.full_path.rstrip("?")


def _checked(campaign_id: int, recipient: str) -> suppression_pb2.UnsubscribeRequest:
    return unsubscribing.checked(campaign_id, recipient, request.args.get("v", ""), request.args.get("h", ""))


def _refused() -> ResponseReturnValue:
    return render("unsubscribe/invalid.html", 400, title="This unsubscribe link does not work")


@blueprint.get("/unsubscribe/<int:campaign_id>/<path:recipient>")
def confirm(campaign_id: int, recipient: str) -> ResponseReturnValue:
    try:
        found = unsubscribing.state(_checked(campaign_id, recipient))
    except unsubscribing.InvalidLink:
        return _refused()
    if found.unsubscribed:
        return render("unsubscribe/done.html", title="You have unsubscribed", state=found,
                      form_url=_link(campaign_id, recipient), just_now=False)
    return render("unsubscribe/confirm.html", title="Unsubscribe", state=found, reasons=REASON_OPTIONS,
                  form_url=_link(campaign_id, recipient), max_other=MAX_OTHER)


@blueprint.post("/unsubscribe/<int:campaign_id>/<path:recipient>")
def act(campaign_id: int, recipient: str) -> ResponseReturnValue:
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK
    if not one_click:
        csrf.check()
    try:
        checked = _checked(campaign_id, recipient)
    except unsubscribing.InvalidLink:
        if one_click:
            return Response(unsubscribing.INVALID + "\n", status=400, mimetype="text/plain")
        return _refused()
    if one_click:
        unsubscribing.unsubscribe(checked, "", "one-click")
        return Response("You have been unsubscribed.\n", mimetype="text/plain")
    form_url = _link(campaign_id, recipient)
    if request.form.get("action") == "resubscribe":
        found = unsubscribing.resubscribe(checked)
        return render("unsubscribe/resubscribed.html", title="You are subscribed again", state=found,
                      form_url=form_url)
    reason, errors = _reason()
    if errors:
        found = unsubscribing.state(checked)
        return render("unsubscribe/confirm.html", 400, title="Unsubscribe", state=found, reasons=REASON_OPTIONS,
                      form_url=form_url, errors=errors, chosen=request.form.get("reason", ""),
                      other=request.form.get("other", ""), max_other=MAX_OTHER)
    found = unsubscribing.unsubscribe(checked, reason, "page")
    return render("unsubscribe/done.html", title="You have unsubscribed", state=found, form_url=form_url,
                  just_now=True)


def _reason() -> tuple[str, FormErrors]:
    """The reason chosen (optional) in words, and what is wrong with the form."""
    errors = FormErrors()
    chosen = request.form.get("reason", "")
    other = " ".join(request.form.get("other", "").split())
    labels = dict(REASONS)
    if chosen and chosen not in labels:
        errors.add("reason-not_wanted", "Choose one of the reasons, or none")
    if len(other) > MAX_OTHER:
        errors.add("other", f"Tell us in at most {MAX_OTHER} characters")
    if errors:
        return "", errors
    if chosen == "other" or (other and not chosen):
        return (f"{labels['other']}: {other}" if other else labels["other"]), errors
    reason = labels.get(chosen, "")
    return (f"{reason}: {other}" if reason and other else reason), errors
