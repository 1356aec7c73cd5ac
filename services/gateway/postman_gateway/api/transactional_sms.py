"""``/v1/transactional/sms``: send one SMS with a saved Twilio credential (``label``), list and get them. The send
is synchronous (sender-sms calls Twilio during the request), so a successful answer is ``ACCEPTED`` as in the
contract; later receipts move it to SENT, DELIVERED or ERROR."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2, senders_pb2
from postman_gateway.api import transactional_query
from postman_gateway.api.channel_routes import CREDENTIAL_CHECK_TIMEOUT_SECONDS
from postman_gateway.core import limiting
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_gateway.core.validation import json_body, positive_id, required_string
from postman_shared.grpc import client
from postman_shared.timestamps import to_iso
from postman_shared.transactional_statuses import TransactionalSmsStatus

STATUSES = tuple(TransactionalSmsStatus)  # what ``status`` may filter by

blueprint = Blueprint("transactional_sms", __name__, url_prefix="/transactional/sms")


def sms_message(m: senders_pb2.TransactionalSms) -> dict[str, Any]:
    """SmsMessageTransactional."""
    def when(name: str) -> str | None:
        return to_iso(getattr(m, name)) if m.HasField(name) else None

    return {
        "id": str(m.id),
        "credentials_label": m.credentials_label,
        "recipient": m.recipient,
        "body": m.body,
        "status": m.status,
        "error_code": m.error_code or None,
        "created_at": when("created_at"),
        "updated_at": when("updated_at"),
        "accepted_at": when("accepted_at"),
        "sent_at": when("sent_at"),
        "delivered_at": when("delivered_at"),
        "errored_at": when("errored_at"),
    }


@blueprint.post("/send")
def send() -> ResponseReturnValue:
    body = json_body()
    message_body = required_string(body, "body")
    recipient = required_string(body, "recipient")
    label = required_string(body, "label").strip()
    caller = current_caller()
    limiting.check_send_limit(caller.user_id, caller.rate_limit)
    credential = client.call(backends().campaign.FindCredential, campaign_pb2.FindCredentialRequest(
        user_id=caller.user_id, channel="SMS", label=label))
    sent = client.call(backends().transactional_sms.SendTransactionalSms, senders_pb2.SendTransactionalSmsRequest(
        user_id=caller.user_id, credential_id=credential.id, credentials_label=label, recipient=recipient,
        body=message_body, simulated=caller.test), timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
    return jsonify(sms_message(sent)), 201


@blueprint.get("")
def list_messages() -> ResponseReturnValue:
    query = transactional_query.list_query(STATUSES)
    window = senders_pb2.TimeRange()
    for bound, value in query.created_at.items():
        getattr(window, bound).FromDatetime(value)
    found = client.call(backends().transactional_sms.ListTransactionalSms, senders_pb2.ListTransactionalSmsRequest(
        user_id=current_caller().user_id, limit=query.limit, offset=query.offset, status=query.statuses,
        created_at=window, sort_by=query.sort_by))
    return jsonify(has_more=found.has_more, data=[sms_message(m) for m in found.messages])


@blueprint.get("/<sms_id>")
def get_message(sms_id: str) -> ResponseReturnValue:
    found = client.call(backends().transactional_sms.GetTransactionalSms, senders_pb2.GetTransactionalSmsRequest(
        user_id=current_caller().user_id, id=positive_id(sms_id, "smsId")))
    return jsonify(sms_message(found))
