"""The page a password-protected email's link opens: ``/p/<version>/<id>``.

The page asks for the password; its script (``static/js/protected-message.js``) derives the key in the browser,
fetches the ciphertext from ``POST /v1/protect/<id>`` with the proof, decrypts it, sanitises the HTML again and
shows it. The server never sees the password or the message. The page carries what the script needs (the key
derivation's parameters, from campaign's ``DescribeProtectedMessage``: an unknown id gets stand-in parameters that
cannot be told from real ones) in data attributes: no inline script, the site's CSP intact. An expired message's
page says so at once, without a form.

Each view counts against ``PROTECT_IP_LIMIT_PER_HOUR`` of the client's IP address, as the opens do. Headers:
``Cache-Control: no-store``, ``Referrer-Policy: no-referrer`` (the link's id never leaks to another site)
and ``X-Robots-Tag: noindex``.
"""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.core import limiting
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.web.pages import install_error_pages, render
from postman_shared.grpc import client

VERSIONS = (1, 2)
ID_LENGTH = 36  # a UUID

blueprint = Blueprint("protected", __name__, template_folder="templates")
install_error_pages(blueprint)


@blueprint.before_request
def limit() -> None:
    """The page counts against the client IP's PROTECT_IP_LIMIT_PER_HOUR with the opens it leads to; it takes no
    body."""
    request.max_content_length = 0
    limiting.check_protect_limit(client_ip())


@blueprint.after_request
def private(response):  # type: ignore[no-untyped-def]
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@blueprint.get("/p/<int:version>/<message_id>")
def protected_message_page(version: int, message_id: str) -> ResponseReturnValue:
    if version not in VERSIONS or len(message_id) != ID_LENGTH:
        return render("protected/not_found.html", 404, title="This link does not work")
    found = client.call(backends().campaign.DescribeProtectedMessage,
                        campaign_pb2.ProtectedMessageRef(message_id=message_id, version=version))
    expired = found.state == "EXPIRED"
    return render("protected/message.html", 410 if expired else 200,
                  title="This message has expired" if expired else "Open your message",
                  version=version, message_id=message_id, state="expired" if expired else "ready",
                  kdf={"name": found.kdf, "iterations": found.iterations, "salt": found.salt},
                  open_url=f"/v1/protect/{message_id}")
