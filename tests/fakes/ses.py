"""A local HTTP server that speaks the Amazon SESv2 wire protocol for SendEmail and GetEmailIdentity.

``POST /v2/email/outbound-emails`` with the rest-json body botocore sends (``Content.Raw.Data`` is base64, as blobs
are in rest-json); success is ``200 {"MessageId": ...}``; errors are SESv2's real shape: the HTTP status of the
modelled exception, the code in the ``x-amzn-ErrorType`` header and ``{"message": ...}`` in the body.

``GET /v2/email/identities/{identity}`` answers the identities given to the fake, in SESv2's shape (see ``identity``:
a verified domain with Easy DKIM carries its three tokens, which moto's SESv2 leaves out), else 404
``NotFoundException``.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.support.stores import free_port

SEND_EMAIL_PATH = "/v2/email/outbound-emails"


@dataclass(frozen=True)
class SesRequest:
    from_address: str | None
    to: tuple[str, ...]
    raw: bytes
    configuration_set: str | None
    message_id: str
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


class FakeSes:
    """``with FakeSes(reject={"x@y"}, throttle_first=1) as ses: ... ses.endpoint_url ... ses.sent``"""

    def __init__(self, reject: set[str] | None = None, throttle_first: int = 0,
                 identities: dict[str, dict[str, Any]] | None = None) -> None:
        self.identities = dict(identities or {})
        self.port = free_port()
        self.reject = set(reject or ())
        self.throttle_remaining = throttle_first
        self.sent: list[SesRequest] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-ses", daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FakeSes":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                prefix = "/v2/email/identities/"
                if not self.path.startswith(prefix) or "AWS4-HMAC-SHA256" not in self.headers.get("Authorization", ""):
                    self._reply(404, {"message": f"no route {self.path}"}, "NotFoundException")
                    return
                name = unquote(self.path[len(prefix):])
                found = fake.identities.get(name)
                if found is None:
                    self._reply(404, {"message": f"Email identity {name} does not exist."}, "NotFoundException")
                    return
                self._reply(200, found)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != SEND_EMAIL_PATH:
                    self._reply(404, {"message": f"no route {self.path}"}, "NotFoundException")
                    return
                if "AWS4-HMAC-SHA256" not in self.headers.get("Authorization", ""):
                    self._reply(403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException")
                    return
                request = json.loads(body)
                to = tuple(request.get("Destination", {}).get("ToAddresses", []))
                with fake.lock:
                    if fake.throttle_remaining > 0:
                        fake.throttle_remaining -= 1
                        self._reply(429, {"message": "Maximum sending rate exceeded."}, "TooManyRequestsException")
                        return
                rejected = [a for a in to if a in fake.reject]
                if rejected:
                    self._reply(400, {"message": f"Email address is not verified: {rejected[0]}"}, "MessageRejected")
                    return
                message_id = f"0100018f{uuid.uuid4().hex}-000000"
                with fake.lock:
                    fake.sent.append(SesRequest(
                        request.get("FromEmailAddress"), to, base64.b64decode(request["Content"]["Raw"]["Data"]),
                        request.get("ConfigurationSetName"), message_id,
                        cc=tuple(request.get("Destination", {}).get("CcAddresses", [])),
                        bcc=tuple(request.get("Destination", {}).get("BccAddresses", [])),
                    ))
                self._reply(200, {"MessageId": message_id})

            def _reply(self, status: int, payload: dict[str, Any], error_type: str | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if error_type:
                    self.send_header("x-amzn-ErrorType", f"{error_type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/")
                self.end_headers()
                self.wfile.write(data)

        return Handler


def identity(kind: str = "DOMAIN", verified: bool = True, dkim: str = "SUCCESS",
             tokens: tuple[str, ...] = ("tok1abc", "tok2def", "tok3ghi"), origin: str = "AWS_SES") -> dict[str, Any]:
    """A GetEmailIdentity answer as SES gives it: ``kind`` DOMAIN or EMAIL_ADDRESS, DKIM ``dkim`` (SUCCESS, PENDING,
    FAILED, NOT_STARTED) with Easy DKIM's tokens."""
    return {"IdentityType": kind, "FeedbackForwardingStatus": True, "VerifiedForSendingStatus": verified,
            "DkimAttributes": {"SigningEnabled": dkim == "SUCCESS", "Status": dkim, "Tokens": list(tokens),
                               "SigningAttributesOrigin": origin, "NextSigningKeyLength": "RSA_2048_BIT"},
            "Policies": {}, "Tags": [], "VerificationStatus": "SUCCESS" if verified else "PENDING"}
