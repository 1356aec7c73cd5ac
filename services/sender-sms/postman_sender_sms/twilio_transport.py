"""Sending one SMS with the official ``twilio`` library, and what its answer means for the message.

Twilio's 429 (too many requests), a 5xx or no connection at all are passing failures: the same request is tried
again a couple of times with a growing pause, then the message is recorded as ERROR ``twilio_unavailable``. Any
other refusal (a 4xx: an invalid 'To' number, a blocked or unreachable destination) is permanent: ERROR
``twilio_<Twilio's error code>`` with Twilio's message, at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from postman_sender_sms.metrics import PROVIDER_RETRIES
from postman_shared.delivery_log import Outcome

# Pauses before the second and third try of a request that failed for a passing reason.
RETRY_PAUSES: tuple[float, ...] = (0.5, 2.0)
REQUEST_TIMEOUT_SECONDS = 15.0
UNAVAILABLE = "twilio_unavailable"
NO_ANSWER = "twilio_no_answer"


class _Passing(Exception):
    """A failure that may not happen on the next try."""


@dataclass(frozen=True)
class TwilioAccount:
    """The plaintext of a stored Twilio credential. Never logged: ``repr`` shows the public SIDs only."""

    account_sid: str
    api_key: str
    api_secret: str
    messaging_service_sid: str

    def __repr__(self) -> str:
        return (f"TwilioAccount(account_sid={self.account_sid!r}, api_key={self.api_key!r}, "
                f"messaging_service_sid={self.messaging_service_sid!r})")

    @property
    def auth_token(self) -> str | None:
        """The account's auth token, which signs Twilio's callbacks: known only when the agency gave its Account
        SID as the API key (Twilio takes Basic auth AccountSid:AuthToken); with an API key SID ("SK...") it is not."""
        if self.api_key.startswith("AC") and self.api_key == self.account_sid:
            return self.api_secret
        return None


class TwilioSender:
    """Sends through one Twilio account (one ``twilio.rest.Client``, its HTTP connections reused)."""

    def __init__(self, account: TwilioAccount, api_base: str, pause: Callable[[float], object] = time.sleep,
                 retry_pauses: Sequence[float] = RETRY_PAUSES) -> None:
        self._messaging_service_sid = account.messaging_service_sid
        self._client = Client(account.api_key, account.api_secret, account.account_sid,
                              http_client=TwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS))
        self._client.api.base_url = api_base
        self._pause = pause
        self._retry_pauses = tuple(retry_pauses)

    def send(self, message_id: str, to: str, body: str, before_try: Callable[[], object] = lambda: None,
             status_callback: str | None = None) -> Outcome:
        """Twilio's answer to one message, tried again after a passing failure.

        ``before_try`` is called right before every request, retries included (the campaign's send rate); what it
        raises propagates, and the message was then not taken by Twilio. ``status_callback``: the URL at which
        Twilio reports the message's later statuses (its delivery receipt); None: no reports."""
        last_reason = ""
        for attempt in range(len(self._retry_pauses) + 1):
            if attempt:
                PROVIDER_RETRIES.inc()
                self._pause(self._retry_pauses[attempt - 1])
            before_try()
            try:
                return self._send_once(message_id, to, body, status_callback)
            except _Passing as passing:
                last_reason = str(passing)
        tries = len(self._retry_pauses) + 1
        return Outcome.error(message_id, UNAVAILABLE, f"Twilio did not take the message after {tries} tries: "
                                                      f"{last_reason}")

    def _send_once(self, message_id: str, to: str, body: str, status_callback: str | None) -> Outcome:
        extra = {"status_callback": status_callback} if status_callback else {}
        try:
            message = self._client.messages.create(to=to, body=body,
                                                   messaging_service_sid=self._messaging_service_sid, **extra)
        except TwilioRestException as exc:
            reason = exc.msg or f"HTTP {exc.status}"
            if exc.status == 429 or exc.status >= 500:
                raise _Passing(f"HTTP {exc.status}: {reason}") from None
            code = f"twilio_{exc.code}" if exc.code else f"twilio_http_{exc.status}"
            return Outcome.error(message_id, code, reason)
        except requests.ReadTimeout:
            # The request went out and may have been taken: sending it again could deliver it twice.
            return Outcome.error(message_id, NO_ANSWER, f"Twilio did not answer within {REQUEST_TIMEOUT_SECONDS:g} s; "
                                                        "the message may or may not have been sent")
        except requests.ConnectionError as exc:
            raise _Passing(f"no connection to Twilio ({type(exc).__name__})") from None
        except TwilioException as exc:  # an answer the library could not read, e.g. not JSON from a proxy
            raise _Passing(f"unreadable answer from Twilio: {exc}") from None
        return Outcome.sent(message_id, message.sid)
