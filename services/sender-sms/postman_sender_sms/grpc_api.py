"""SmsSenderService over gRPC: checking a Twilio account with a real test SMS before it is stored, and sending a
test SMS with a stored one.

A new account's secrets arrive here in plaintext (from the gateway, which got them from the agency); they are used
for the test SMS, sealed here and handed to campaign sealed, so no other service ever holds them in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from postman.v1 import campaign_pb2, campaign_pb2_grpc, senders_pb2, senders_pb2_grpc
from postman_sender_sms.provider_credentials import CHANNEL, CredentialUnusable, TwilioSenders
from postman_sender_sms.twilio_transport import TwilioAccount, TwilioSender
from postman_shared.credentials import Sealer, check_credential_label, credential_aad
from postman_shared.delivery_log import Outcome
from postman_shared.grpc import client
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.logging import get_logger
from postman_shared.outcomes import MessageStatus
from postman_shared.simulation import simulated_outcome
from postman_shared.validators import normalise_phone

TEST_MESSAGE = "This is a test message from Postman: your Twilio credentials work."
# Twilio's codes for an account that is not accepted (wrong SID, key or secret; suspended) and for a bad number.
_REFUSED_ACCOUNT = {"twilio_20003", "twilio_20404", "twilio_20005", "twilio_http_401", "twilio_http_404"}
_BAD_NUMBER = {"twilio_21211", "twilio_21614", "twilio_21408", "twilio_21610", "twilio_21612"}

log = get_logger(component="sms-sender-api")


def account_from_request(fields: senders_pb2.TwilioAccountFields) -> TwilioAccount:
    """The account, each field trimmed and present, with the API's field names in the errors."""
    values = {}
    for name, api_name in (("account_sid", "twilio_account_sid"), ("api_key", "twilio_api_key"),
                           ("api_secret", "twilio_api_secret"),
                           ("messaging_service_sid", "twilio_messaging_service_sid")):
        value = getattr(fields, name).strip()
        if not value:
            raise InvalidArgument(f"{api_name} is required", code=ErrorCode.INVALID_CREDENTIALS)
        values[name] = value
    if not values["account_sid"].startswith("AC"):
        raise InvalidArgument("twilio_account_sid must be your Twilio Account SID, which starts with \"AC\"",
                              code=ErrorCode.INVALID_CREDENTIALS)
    if not values["messaging_service_sid"].startswith("MG"):
        raise InvalidArgument("twilio_messaging_service_sid must be a Messaging Service SID, which starts with "
                              "\"MG\"", code=ErrorCode.INVALID_CREDENTIALS)
    return TwilioAccount(**values)


def test_recipient(raw: str, region: str) -> str:
    if not raw.strip():
        raise InvalidArgument("recipient is required: the phone number the test SMS is sent to",
                              code=ErrorCode.INVALID_RECIPIENT)
    number = normalise_phone(raw, region)
    if number is None:
        raise InvalidArgument(f"recipient {raw[:40]!r} is not a valid phone number", code=ErrorCode.INVALID_RECIPIENT)
    return number


def check_test_outcome(outcome: Outcome) -> None:
    """Raises a clear error when the test SMS was not taken by Twilio."""
    if outcome.status == MessageStatus.SENT:
        return
    code, reason = outcome.error_code or "", outcome.reason or "no reason given"
    if code in _BAD_NUMBER:
        raise InvalidArgument(f"Twilio could not send the test SMS to that number: {reason}",
                              code=ErrorCode.INVALID_RECIPIENT)
    if code in ("simulated_invalid_number", "simulated_undelivered"):
        raise InvalidArgument(f"The test SMS could not be sent to that number (simulated): {reason}",
                              code=ErrorCode.INVALID_RECIPIENT)
    if code in _REFUSED_ACCOUNT:
        raise InvalidArgument(f"Twilio refused these credentials: {reason}. Check the Account SID, API key and "
                              "secret", code=ErrorCode.INVALID_CREDENTIALS)
    raise InvalidArgument(f"The test SMS could not be sent ({code}): {reason}", code=ErrorCode.INVALID_CREDENTIALS)


class SmsSenderServicer(senders_pb2_grpc.SmsSenderServiceServicer):
    def __init__(self, senders: TwilioSenders, sealer: Callable[[], Sealer], campaign_addr: str, api_base: str,
                 phone_region: str) -> None:
        self._senders = senders
        self._sealer = sealer
        self._campaign_addr = campaign_addr
        self._api_base = api_base
        self._phone_region = phone_region

    def AddTwilioCredential(self, request: senders_pb2.AddTwilioCredentialRequest,
                            context: Any) -> senders_pb2.StoredCredential:
        account = account_from_request(request.account)
        label = request.label.strip()
        if label:
            check_credential_label(label)
        to = test_recipient(request.test_recipient, self._phone_region)
        if request.simulated:  # a test API key: everything is checked but Twilio, which is never called
            outcome = simulated_outcome("credential-test", to)
        else:
            outcome = TwilioSender(account, self._api_base).send("credential-test", to, TEST_MESSAGE)
        check_test_outcome(outcome)
        sealer = self._sealer()
        plaintext = json.dumps({"account_sid": account.account_sid, "api_key": account.api_key,
                                "api_secret": account.api_secret,
                                "messaging_service_sid": account.messaging_service_sid}).encode()
        description = f"Twilio account {account.account_sid[:6]}…{account.account_sid[-4:]}"
        stub = client.stub(self._campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
        stored = client.call(stub.StoreSealedCredential, campaign_pb2.StoreSealedCredentialRequest(
            user_id=request.user_id, channel=CHANNEL, label=label,
            sealed=sealer.seal(plaintext, credential_aad(request.user_id, CHANNEL)), key_id=sealer.key_id,
            description=description, campaign_id=request.campaign_id))
        log.info("twilio credential added", user_id=request.user_id, credential_id=stored.id,
                 campaign_id=request.campaign_id or None, label=label or None)
        return senders_pb2.StoredCredential(credential_id=stored.id, label=stored.label, description=description)

    def SendTestSms(self, request: senders_pb2.SendTestRequest, context: Any) -> senders_pb2.TestResult:
        to = test_recipient(request.recipient, self._phone_region)
        try:
            sender = self._senders.for_message(request.credential_id, request.user_id)
            if request.simulated:
                check_test_outcome(simulated_outcome("credential-test", to))
                return senders_pb2.TestResult(message="OK")
        except CredentialUnusable as exc:
            if exc.code == "credential_not_found" or "not an SMS credential of" in exc.reason:
                raise NotFound("Credential") from None
            raise InvalidArgument(exc.reason, code=ErrorCode.INVALID_CREDENTIALS) from None
        check_test_outcome(sender.send("credential-test", to, TEST_MESSAGE))
        log.info("test sms sent", user_id=request.user_id, credential_id=request.credential_id)
        return senders_pb2.TestResult(message="OK")
