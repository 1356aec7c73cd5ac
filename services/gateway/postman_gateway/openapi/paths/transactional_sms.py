"""The ``SMS`` tag (contract section 5.2): transactional SMS with a saved Twilio credential."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import (
    CALLER_ERRORS,
    Operation,
    json_body,
    list_parameters,
    ok,
    op,
    path_param,
    ref_example,
)
from postman_gateway.openapi.schemas import SMS_MESSAGE_EXAMPLE, SMS_STATUSES, obj, ref


def operations() -> list[Operation]:
    return [
        op("POST", "/v1/transactional/sms/send", "SMS", "Send one SMS",
           "Sent at once with the saved Twilio credential `label`; the answer is `ACCEPTED`. Twilio's receipts "
           "move it to SENT, DELIVERED or ERROR. The caller's send rate limit applies (429).",
           ok(201, "Accepted.", ref("SmsMessageTransactional"), SMS_MESSAGE_EXAMPLE),
           errors=(400, 403, *CALLER_ERRORS),
           body=json_body(obj({"body": {"type": "string", "minLength": 1}, "recipient": {"type": "string"},
                               "label": {"type": "string", "minLength": 1}}, ("body", "recipient", "label")),
                          {"body": "Your code is 123456", "recipient": "+6591234567", "label": "alerts"})),
        op("GET", "/v1/transactional/sms", "SMS", "List sent SMS",
           "The caller's transactional SMS, newest first by default.",
           ok(200, "A page of SMS.", ref("SmsMessageTransactionalList"), ref_example("SmsMessageTransactionalList")),
           errors=(400, *CALLER_ERRORS), params=list_parameters(SMS_STATUSES)),
        op("GET", "/v1/transactional/sms/{smsId}", "SMS", "One sent SMS",
           "Another user's SMS is 404; a non-numeric id 400.",
           ok(200, "The SMS.", ref("SmsMessageTransactional"), SMS_MESSAGE_EXAMPLE),
           errors=(400, 404, *CALLER_ERRORS), params=[path_param("smsId", "The SMS's id.", example="7")]),
    ]
