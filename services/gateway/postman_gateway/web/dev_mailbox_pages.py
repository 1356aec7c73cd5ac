"""The development mailbox, the pages under ``/outbox`` ("Outbox" in the UI; not the transactional outbox table):
with ``EMAIL_TRANSPORT=outbox`` (``make run``'s default) no email leaves the machine, so a newcomer reads here what
was "sent": their one-time password and their campaigns' messages.

Who sees what (the pages exist only with the outbox transport, when PUBLIC_URL is this machine and the request
comes from this machine; elsewhere every route here is a 404; the gateway and sender-email also refuse to start with
the outbox transport on a GATEWAY_HOST other than a loopback address, ``startup_checks.check_outbox``):
- signed in: every email in the folder, newest first — it is a development page on one person's machine — except
  one-time password emails to other addresses, which would let one officer sign in as another;
- signed out: only ``/outbox/latest?to=<address>``, the newest one-time password email to that address, and only
  when ``PUBLIC_URL`` is on this machine (localhost), so a server misconfigured with the outbox transport does not
  hand anyone's password to whoever asks. The sign-in page links to it.

A message's HTML is shown in a sandboxed frame served by ``/outbox/<name>/body`` with its own Content-Security-
Policy (``sandbox``, no script, nothing fetched but inline styles and images): whatever a recipient file put into a
campaign's email cannot run, and cannot reach this site's cookies or pages.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, current_app, request
from flask.typing import ResponseReturnValue

from postman_gateway.core.auth import Officer
from postman_gateway.core.sessions import cookie_policy
from postman_gateway.web import formatting, security
from postman_gateway.web.dev_mailbox_folder import DevMailbox, Email, is_password_email
from postman_gateway.web.pages import install_error_pages, officer, render, require_officer
from postman_shared.startup_checks import is_loopback_host

PAGE_SIZE = 25

blueprint = Blueprint("outbox", __name__, template_folder="templates")
install_error_pages(blueprint)
formatting.install(blueprint)


def mailbox() -> DevMailbox:
    return DevMailbox(Path(current_app.config["OUTBOX_DIR"]))


def is_local_request() -> bool:
    """Whether the outbox may be shown to this request: the outbox transport, PUBLIC_URL on this machine, and the
    request itself from this machine (its peer, or with TRUSTED_PROXIES the client they name, is a loopback address).
    PUBLIC_URL alone says what the server was told, not who is asking: a misconfigured server reachable from the
    network would hand out everyone's email."""
    if not current_app.config.get("SHOW_OUTBOX"):
        return False
    host = urlsplit(cookie_policy().public_origin).hostname or ""
    return is_loopback_host(host) and is_loopback_host(request.remote_addr or "")


def password_shortcut(email: str) -> str | None:
    """The link to the newest password email to ``email``, where the signed-out shortcut is allowed; else None."""
    if not is_local_request():
        return None
    return "/outbox/latest?" + urlencode({"to": email})


@blueprint.before_request
def only_in_development() -> ResponseReturnValue | None:
    if not is_local_request():
        abort(404)
    if request.endpoint == "outbox.latest_password":
        return None  # checks its own conditions: it works signed out
    return require_officer()


def _visible_to(reader: Officer, box: DevMailbox, name: str) -> bool:
    if not is_password_email(name):
        return True
    found = box.read(name, headers_only=True)
    return found is not None and found.to_address == reader.email.lower()


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


@blueprint.get("/outbox")
def list_emails() -> ResponseReturnValue:
    reader = officer()
    assert reader is not None  # require_officer
    box = mailbox()
    entries = [entry for entry in box.entries() if _visible_to(reader, box, entry.name)]
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(_page_number(), pages)
    shown = [box.read(entry.name, headers_only=True) for entry in entries[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]]
    return render("outbox/list.html", title="DevMailbox", emails=[email for email in shown if email is not None],
                  total=len(entries), page=page, pages=pages, folder=str(box.folder))


def _email_for(name: str) -> Email:
    reader = officer()
    assert reader is not None
    box = mailbox()
    email = box.read(name) if _visible_to(reader, box, name) else None
    if email is None:
        abort(404, description="There is no such email in the outbox. It may have been deleted from the folder.")
    return email


@blueprint.get("/outbox/<name>")
def show_email(name: str) -> ResponseReturnValue:
    email = _email_for(name)
    return render("outbox/email.html", title="Email in the outbox", email=email)


@blueprint.get("/outbox/<name>/body")
def email_body(name: str) -> ResponseReturnValue:
    return security.email_frame(_email_for(name).html)


@blueprint.get("/outbox/latest")
def latest_password() -> ResponseReturnValue:
    address = request.args.get("to", "").strip()[:320]
    if not address or password_shortcut(address) is None:
        abort(404)
    email = mailbox().newest_password_email(address)
    back = "/sign-in/password?" + urlencode({"email": address})
    response = current_app.make_response(render(
        "outbox/latest_password.html", 200 if email else 404,
        title="Your one-time password" if email else "No password email yet",
        email=email, address=address, back=back, reload=request.full_path))
    response.headers["Cache-Control"] = "no-store"  # a password: never kept by a cache
    return response
