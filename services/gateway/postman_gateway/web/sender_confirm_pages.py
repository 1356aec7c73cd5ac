"""The page a sender address's confirmation link opens (signed out): ``/sender-addresses/confirm?token=…``.

Like an unsubscribe link's page: a GET only shows which address the link is for (mail scanners and link previews
open links), the button POSTs the token with a CSRF token bound to a pre-session cookie, and the link's token is its
only credential (auth ``ConfirmSenderAddress``: single use, ``SENDER_CONFIRM_HOURS``, stored only as a hash). Every
link that does not work gets the same page, whatever the reason.
"""

from __future__ import annotations

import re

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.web import csrf
from postman_gateway.web.pages import install_error_pages, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

CONFIRM_PATH = "/sender-addresses/confirm"  # the link auth mails (sender_confirmation.CONFIRM_PATH)
MAX_FORM_BYTES = 4096
# "<address id>.<43 characters of secrets.token_urlsafe(32)>": anything else is refused before auth is asked.
_TOKEN = re.compile(r"[1-9][0-9]{0,17}\.[A-Za-z0-9_-]{43}")

blueprint = Blueprint("sender_confirm", __name__, template_folder="templates")
install_error_pages(blueprint)


@blueprint.before_request
def limit_form_size() -> None:
    request.max_content_length = MAX_FORM_BYTES


def _confirm(token: str, check_only: bool) -> auth_pb2.SenderAddress | None:
    """The address of a live link, or None for any link that does not work (the same page for every reason)."""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        return client.call(backends().auth.ConfirmSenderAddress, auth_pb2.ConfirmSenderAddressRequest(
            token=token, ip=client_ip(), check_only=check_only))
    except ServiceError as exc:
        if exc.http_status != 400:
            raise
        return None


def _invalid() -> ResponseReturnValue:
    return render("settings/sender_link_invalid.html", 400, title="This confirmation link does not work")


@blueprint.get(CONFIRM_PATH)
def confirm_page() -> ResponseReturnValue:
    token = request.args.get("token", "")
    found = _confirm(token, check_only=True)
    if found is None:
        return _invalid()
    return render("settings/sender_confirm.html", title="Confirm your sender address", address=found, token=token)


@blueprint.post(CONFIRM_PATH)
def confirm() -> ResponseReturnValue:
    csrf.check()
    found = _confirm(request.form.get("token", ""), check_only=False)
    if found is None:
        return _invalid()
    return render("settings/sender_confirmed.html", title="Sender address confirmed", address=found)
