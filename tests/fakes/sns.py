"""A local stand-in for Amazon SNS's side of an HTTP subscription: it signs messages the way SNS does, with a
self-made certificate that it serves over HTTP (as SNS serves its own from ``SigningCertURL``), and answers the
``SubscribeURL`` of the subscription confirmations it makes, remembering which were confirmed.

The gateway is pointed at it with ``SNS_CERT_URL_PREFIX`` = ``fake.url_prefix``. SES's events are built in SES's
event-publishing format (``eventType``, ``mail``, and the event's own object).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.stores import free_port

CERT_PATH = "/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"  # SNS's file name rule
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
TOPIC = "arn:aws:sns:ap-southeast-1:123456789012:postman-ses-events"


def self_signed(common_name: str = "sns.ap-southeast-1.amazonaws.com") -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, certificate.public_bytes(serialization.Encoding.PEM)


class FakeSns:
    """``with FakeSns() as sns: sns.notification(TOPIC, sns.ses_event("Delivery", message_id))``"""

    def __init__(self) -> None:
        self.port = free_port()
        self.key, self.certificate_pem = self_signed()
        self.confirmed: list[str] = []  # tokens whose SubscribeURL was called
        self.certificate_fetches = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-sns", daemon=True)

    def reset(self) -> None:
        """No subscription confirmed and the certificate not fetched yet: as just started, for a fake shared by a
        module's tests (``tests/support/module_fakes.py``)."""
        with self._lock:
            self.confirmed.clear()
            self.certificate_fetches = 0

    @property
    def url_prefix(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> "FakeSns":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- messages ------------------------------------------------------------------------------------------------

    def sign(self, message: dict[str, Any], version: str = "1", key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
        fields = SIGNED[message["Type"]]
        text = "".join(f"{name}\n{message[name]}\n" for name in fields if name in message)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS's SignatureVersion 1
        signature = (key or self.key).sign(text.encode("utf-8"), padding.PKCS1v15(), algorithm)
        return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                "SigningCertURL": self.url_prefix + CERT_PATH.lstrip("/")}

    def notification(self, topic: str, message: dict[str, Any] | str, version: str = "1",
                     subject: str | None = None) -> dict[str, Any]:
        envelope = {
            "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": _now(), "UnsubscribeURL": self.url_prefix + "unsubscribe",
        }
        if subject is not None:
            envelope["Subject"] = subject
        return self.sign(envelope, version)

    def subscription_confirmation(self, topic: str) -> dict[str, Any]:
        token = uuid.uuid4().hex
        return self.sign({
            "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": token, "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": f"{self.url_prefix}confirm?Token={token}", "Timestamp": _now(),
        })

    @staticmethod
    def ses_event(event_type: str, message_id: str, **detail: Any) -> dict[str, Any]:
        """An SES event-publishing record (``bounce_type=`` etc. fill the event's own object; ``recipients=``
        the addresses it is about, as SES lists them)."""
        recipients = detail.get("recipients", ["someone@example.com"])
        mail = {"timestamp": _now(), "messageId": message_id, "source": "donotreply@mail.postman.gov.sg",
                "destination": list(recipients)}
        event: dict[str, Any] = {"eventType": event_type, "mail": mail}
        if event_type == "Bounce":
            event["bounce"] = {
                "bounceType": detail.get("bounce_type", "Permanent"),
                "bounceSubType": detail.get("bounce_sub_type", "General"), "timestamp": _now(),
                "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                       "diagnosticCode": detail.get("diagnostic", "smtp; 550 5.1.1 user unknown")}
                                      for address in recipients]}
        elif event_type == "Complaint":
            event["complaint"] = {"complaintFeedbackType": detail.get("complaint_type", "abuse"), "timestamp": _now(),
                                  "complainedRecipients": [{"emailAddress": address} for address in recipients]}
        elif event_type == "Reject":
            event["reject"] = {"reason": detail.get("reason", "Bad content")}
        elif event_type == "Rendering Failure":
            event["failure"] = {"errorMessage": "Attribute 'name' is not present", "templateName": "t"}
        elif event_type == "Delivery":
            event["delivery"] = {"timestamp": _now(), "recipients": list(recipients)}
        elif event_type == "Open":
            event["open"] = {"timestamp": _now(), "userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"}
        elif event_type == "Send":
            event["send"] = {}
        return event

    # -- the HTTP side -------------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                if parts.path == CERT_PATH:
                    with fake._lock:
                        fake.certificate_fetches += 1
                    self._reply(200, fake.certificate_pem, "application/x-pem-file")
                elif parts.path == "/confirm":
                    with fake._lock:
                        fake.confirmed.extend(parse_qs(parts.query).get("Token", []))
                    self._reply(200, b"<ConfirmSubscriptionResponse/>", "text/xml")
                else:
                    self._reply(404, b"not found", "text/plain")

            def _reply(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
