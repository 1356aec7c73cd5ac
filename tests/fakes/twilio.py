"""A local HTTP server that speaks Twilio's REST wire format for sending a message.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded (``To``, ``Body``, ``MessagingServiceSid`` or
``From``), HTTP Basic auth with an API key SID and secret; success is ``201`` with the JSON message resource; errors
are Twilio's shape ``{"code", "message", "more_info", "status"}`` with that HTTP status. Every request that passes
authentication is recorded in ``received`` with the moment it arrived, including the ones answered with an error.

A message created with a ``StatusCallback`` URL is reported to it as Twilio does, after the answer: form-encoded
POSTs (``MessageSid``, ``MessageStatus``, ``ErrorCode``...), first ``sent`` (unless ``sent_callback=False``), then
the final status: ``delivered``, or ``undelivered`` with ``ErrorCode`` 30003 for a number in ``undelivered``. Each
carries ``X-Twilio-Signature``, computed with the twilio library's ``RequestValidator`` and the account's auth token:
the Basic-auth password when the username is the account SID, else ``auth_token`` (which the caller cannot know,
as with a real account used through an API key). The callbacks made are in ``callbacks``.
"""

from __future__ import annotations

import base64
import json
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from tests.support.stores import free_port

MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"


@dataclass(frozen=True)
class TwilioRequest:
    account_sid: str
    username: str  # the API key SID of the Basic auth
    to: str | None
    body: str | None
    messaging_service_sid: str | None
    from_: str | None
    answered: int  # the HTTP status the fake answered with
    received_at: float = 0.0  # time.monotonic() when the request arrived (before its body was read)
    status_callback: str | None = None


@dataclass(frozen=True)
class TwilioCallback:
    """One status callback the fake made."""

    url: str
    params: dict[str, str]
    signature: str
    answered: int | None  # the HTTP status the callback URL answered with; None: no answer (no connection)


UNDELIVERED_ERROR_CODE = "30003"  # Twilio: "Unreachable destination handset"


class FakeTwilio:
    """``with FakeTwilio(api_key="SK..", api_secret="..", invalid={"+6590000000"}, throttle_first=1) as twilio:
    ... twilio.base_url ... twilio.sent`` (the requests answered 201)."""

    def __init__(self, api_key: str, api_secret: str, invalid: set[str] | None = None, throttle_first: int = 0,
                 unavailable_first: int = 0, undelivered: set[str] | None = None, sent_callback: bool = True,
                 auth_token: str | None = None, stopped: set[str] | None = None) -> None:
        self.port = free_port()
        self.api_key = api_key
        self.api_secret = api_secret
        self.invalid = set(invalid or ())
        self.stopped = set(stopped or ())  # numbers that replied STOP to the messaging service: Twilio's 21610
        self.undelivered = set(undelivered or ())  # numbers whose final status is "undelivered"
        self.sent_callback = sent_callback
        self.auth_token = auth_token or secrets.token_hex(16)  # the account's, when the API key is not its SID
        self.callbacks: list[TwilioCallback] = []
        self._pending_callbacks: queue.Queue[tuple[str, dict[str, str], str] | None] = queue.Queue()
        self._callback_thread = threading.Thread(target=self._make_callbacks, name="fake-twilio-callbacks",
                                                 daemon=True)
        self.throttle_remaining = throttle_first  # 429 code 20429 for the next this many requests
        self.unavailable_remaining = unavailable_first  # then 503 for this many
        self.received: list[TwilioRequest] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent(self) -> list[TwilioRequest]:
        with self.lock:
            return [r for r in self.received if r.answered == 201]

    def __enter__(self) -> "FakeTwilio":
        self._thread.start()
        self._callback_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._pending_callbacks.put(None)
        self._callback_thread.join(timeout=10)

    def _schedule_callbacks(self, account_sid: str, username: str, password: str, form: dict[str, str],
                            message: dict[str, Any]) -> None:
        """Queues the status callbacks of a created message (made in order by one thread, after the answer)."""
        url = form.get("StatusCallback")
        if not url:
            return
        token = password if username == account_sid else self.auth_token
        statuses = ["sent"] if self.sent_callback else []
        statuses.append("undelivered" if form.get("To") in self.undelivered else "delivered")
        for status in statuses:
            params = {
                "AccountSid": account_sid, "ApiVersion": "2010-04-01", "From": "+6580000000",
                "MessageSid": message["sid"], "MessageStatus": status,
                "MessagingServiceSid": form.get("MessagingServiceSid", ""), "SmsSid": message["sid"],
                "SmsStatus": status, "To": form.get("To", ""),
            }
            if status == "undelivered":
                params["ErrorCode"] = UNDELIVERED_ERROR_CODE
            self._pending_callbacks.put((url, params, RequestValidator(token).compute_signature(url, params)))

    def _make_callbacks(self) -> None:
        while (job := self._pending_callbacks.get()) is not None:
            url, params, signature = job
            request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST", headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
                "User-Agent": "TwilioProxy/1.1"})
            answered: int | None
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answered = response.status
            except urllib.error.HTTPError as error:
                answered = error.code
            except (OSError, ValueError):
                answered = None
            with self.lock:
                self.callbacks.append(TwilioCallback(url, params, signature, answered))

    def _authorised(self, header: str | None) -> tuple[str, str] | None:
        """The username and password of valid Basic credentials, else None."""
        if not header or not header.startswith("Basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if secrets.compare_digest(username, self.api_key) and secrets.compare_digest(password, self.api_secret):
            return username, password
        return None

    def _answer(self, account_sid: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to = form.get("To")
        with self.lock:
            if self.throttle_remaining > 0:
                self.throttle_remaining -= 1
                return 429, _error(20429, "Too Many Requests", 429)
            if self.unavailable_remaining > 0:
                self.unavailable_remaining -= 1
                return 503, _error(20503, "Service Unavailable", 503)
        if not to:
            return 400, _error(21604, "A 'To' phone number is required.", 400)
        if to in self.invalid:
            return 400, _error(21211, f"The 'To' number {to} is not a valid phone number.", 400)
        if to in self.stopped:
            return 400, _error(21610, "Attempt to send to unsubscribed recipient", 400)
        if not form.get("MessagingServiceSid") and not form.get("From"):
            return 400, _error(21603, "A 'From' phone number is required.", 400)
        return 201, _message_resource(account_sid, form)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        prefix, suffix = MESSAGES_PATH.split("{account_sid}")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                received_at = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if not (self.path.startswith(prefix) and self.path.endswith(suffix)):
                    self._reply(404, _error(20404, "The requested resource was not found", 404))
                    return
                account_sid = self.path[len(prefix):-len(suffix)]
                authorised = fake._authorised(self.headers.get("Authorization"))
                if authorised is None:
                    self._reply(401, _error(20003, "Authenticate", 401))
                    return
                username, password = authorised
                form = {name: values[-1] for name, values in parse_qs(raw, keep_blank_values=True).items()}
                status, answer = fake._answer(account_sid, form)
                with fake.lock:
                    fake.received.append(TwilioRequest(
                        account_sid=account_sid, username=username, to=form.get("To"), body=form.get("Body"),
                        messaging_service_sid=form.get("MessagingServiceSid"), from_=form.get("From"),
                        answered=status, received_at=received_at, status_callback=form.get("StatusCallback")))
                self._reply(status, answer)
                if status == 201:
                    fake._schedule_callbacks(account_sid, username, password, form, answer)

            def _reply(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def _message_resource(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + secrets.token_hex(16)
    now = format_datetime(datetime.now(timezone.utc), usegmt=True)
    body = form.get("Body", "")
    return {
        "account_sid": account_sid, "api_version": "2010-04-01", "body": body, "date_created": now,
        "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
        "error_message": None, "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0", "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        "to": form.get("To"), "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }
