"""Settings > Sender addresses: the addresses an officer may send email from besides the platform's default (issue
12): add one (auth ``VerifySenderAddress``: checked with SES and DNS, or a confirmation link mailed to it), send the
link again, remove one. The page the link opens is ``sender_confirm_pages``.

The list itself is on the settings overview (``settings_pages.overview``). Auth checks ownership: another officer's
address is not found. Outcomes are said on the next page with fixed notices.
"""

from __future__ import annotations

from flask import abort, redirect, request
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway.api.senders import list_addresses
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.core.sender_address_status import SenderAddressStatus
from postman_gateway.web import formatting
from postman_gateway.web.pages import FormErrors, officer, render, signed_in_blueprint
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

MAX_ADDRESS = 320
VERIFY_TIMEOUT_SECONDS = 30.0  # SES and DNS are asked during the call

blueprint = signed_in_blueprint("sender_settings", __name__, url_prefix="/settings/senders")
formatting.install(blueprint)


def _user_id() -> int:
    found = officer()
    assert found is not None  # require_officer
    return found.user_id


def _address(raw_id: str) -> auth_pb2.SenderAddress:
    """One of the officer's sender addresses, or the not-found page."""
    for found in list_addresses(_user_id()):
        if str(found.id) == raw_id:
            return found
    abort(404, description="You have no sender address with that number. It may have been removed already.")


def _verify(value: str) -> auth_pb2.SenderAddress:
    return client.call(backends().auth.VerifySenderAddress, auth_pb2.VerifySenderAddressRequest(
        user_id=_user_id(), email=value, ip=client_ip()), timeout=VERIFY_TIMEOUT_SECONDS)


def _done(found: auth_pb2.SenderAddress) -> str:
    done = "sender-verified" if found.status == SenderAddressStatus.VERIFIED else "sender-link-sent"
    return "/settings?done=" + done + "#senders"


@blueprint.route("/new", methods=["GET", "POST"])
def new_sender() -> ResponseReturnValue:
    errors = FormErrors()
    email = request.form.get("email", "").strip()[:MAX_ADDRESS + 1]
    if request.method == "POST":
        if not email:
            errors.add("email", "Enter the email address you want to send from")
        else:
            try:
                return redirect(_done(_verify(email)), code=303)
            except ServiceError as exc:
                if exc.http_status not in (400, 403, 429):
                    raise
                errors.add("email", exc.message)
    return render("settings/sender_new.html", 400 if errors else 200, title="Add a sender address", email=email,
                  errors=errors)


@blueprint.post("/<sender_id>/resend")
def resend_link(sender_id: str) -> ResponseReturnValue:
    found = _address(sender_id)
    return redirect(_done(_verify(found.email)), code=303)


@blueprint.route("/<sender_id>/remove", methods=["GET", "POST"])
def remove_sender(sender_id: str) -> ResponseReturnValue:
    found = _address(sender_id)
    if request.method == "POST":
        client.call(backends().auth.DeleteSenderAddress, auth_pb2.DeleteSenderAddressRequest(
            user_id=_user_id(), sender_address_id=found.id, ip=client_ip()))
        return redirect("/settings?done=sender-removed#senders", code=303)
    return render("settings/confirm.html", title="Remove this sender address?",
                  intro=f"You are about to remove the sender address {found.email}.",
                  consequence="Campaigns and emails that use it as their From will be refused until you choose "
                              "another address; a scheduled campaign that uses it will not be sent.",
                  action=f"/settings/senders/{found.id}/remove", button="Remove")
