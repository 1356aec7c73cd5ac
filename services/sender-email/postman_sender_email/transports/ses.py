"""Amazon SES transport: one SESv2 ``SendEmail`` call per message with the raw MIME bytes, several at a time.

botocore's "standard" retry mode already retries throttling (``TooManyRequestsException``, ``LimitExceeded...``),
5xx replies and connection errors with backoff; whatever still fails after that is ERROR ``ses_unavailable``,
transient: the delivery use case tries the message again later.
Refusals about the message or the account (``MessageRejected``, ``MailFromDomainNotVerifiedException``...) are
permanent: ERROR with SES's error code and message.

A transactional email's copies go in ``Destination`` (Cc and Bcc: SES sends to every Destination address and the Bcc
ones appear in no header); one that asked for no tracking names the untracked configuration set (or none), so SES
adds no open-tracking pixel to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from postman_sender_email import mime
from postman_sender_email.transactional_mail import TransactionalMail
from postman_sender_email.transports.base import Email, Outcome, Proceed, log_ids, may_send
from postman_shared.logging import get_logger

log = get_logger(component="ses")

# Codes that describe a passing condition; after botocore's own retries they still mean "try again later".
TRANSIENT_CODES = frozenset({
    "TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException",
    "ServiceUnavailable", "InternalFailure", "RequestTimeout",
})


def client_config(max_attempts: int = 5) -> Config:
    """The botocore client configuration this transport expects."""
    return Config(retries={"mode": "standard", "max_attempts": max_attempts}, max_pool_connections=32)


class SesTransport:
    name = "ses"

    def __init__(self, client: Any, configuration_set: str = "", concurrency: int = 8,
                 untracked_configuration_set: str = "") -> None:
        self._client = client
        self._configuration_set = configuration_set
        self._untracked_configuration_set = untracked_configuration_set
        self._workers = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ses")

    def send_batch(self, messages: Sequence[Email], proceed: Proceed | None = None) -> list[Outcome]:
        date = formatdate(usegmt=True)

        def one(email: Email) -> Outcome:
            return self._send_one(email, date) if may_send(email, proceed) else Outcome.withheld(email.message_id)

        return list(self._workers.map(one, messages))

    def close(self) -> None:
        self._workers.shutdown(wait=True)

    def _send_one(self, email: Email, date: str) -> Outcome:
        destination: dict[str, list[str]] = {"ToAddresses": [mime.mailbox(email.to)[0]]}
        configuration_set = self._configuration_set
        if isinstance(email, TransactionalMail):
            if email.cc:
                destination["CcAddresses"] = list(email.cc)
            if email.bcc:
                destination["BccAddresses"] = list(email.bcc)
            if not email.track_opens:
                configuration_set = self._untracked_configuration_set
        request: dict[str, Any] = {
            "FromEmailAddress": mime.mailbox(email.sender)[1].decode("utf-8"),
            "Destination": destination,
            "Content": {"Raw": {"Data": mime.build(email, date)}},
        }
        if configuration_set:
            request["ConfigurationSetName"] = configuration_set
        try:
            reply = self._client.send_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "ses_error")
            reason = str(error.get("Message") or exc)
            if code in TRANSIENT_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                log.warning("ses kept failing", **log_ids(email), code=code, reason=reason)
                return Outcome.unavailable(email.message_id, "ses_unavailable", f"{code}: {reason}")
            return Outcome.error(email.message_id, code, reason)
        except BotoCoreError as exc:  # connection errors that outlived the retries
            log.warning("ses unreachable", **log_ids(email), error=str(exc))
            return Outcome.unavailable(email.message_id, "ses_unavailable", str(exc))
        return Outcome.sent(email.message_id, reply.get("MessageId"))
