"""The ``Email`` tag (contract section 5.1): transactional email, one message at a time, at once."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import (
    CALLER_ERRORS,
    FROM,
    JSON,
    MULTIPART,
    Operation,
    list_parameters,
    ok,
    op,
    path_param,
    query,
    ref_example,
)
from postman_gateway.openapi.schemas import CLASSIFICATIONS, EMAIL_MESSAGE_EXAMPLE, EMAIL_STATUSES, Schema, obj, ref


def operations() -> list[Operation]:
    address = {"type": "string"}
    email_fields: dict[str, Schema] = {
        "subject": {"type": "string", "minLength": 1}, "body": {"type": "string", "minLength": 1},
        "recipient": address,
        "cc": {"type": "array", "items": address}, "bcc": {"type": "array", "items": address},
        "from": {"type": "string", "description": "The default sender's address with any display name (it reads "
                                                  "\"<name> via Postman\"), or an address the caller verified "
                                                  "(`/v1/settings/email/from`); else 400 `invalid_from_address`."},
        "reply_to": {"type": "string", "description": "Default: the caller's own email address."},
        "classification": {"type": "string", "enum": CLASSIFICATIONS,
                           "description": "Upper-cased before it is checked."},
        "tag": {"type": "string", "maxLength": 255},
        "disable_tracking": {"type": "boolean", "default": False, "description": "The upstream server's extra."},
    }
    multipart_fields = {
        **email_fields,
        "attachments": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                        "description": "The field repeated per file; at most 10 MB in all; types checked by "
                                       "content."},
        "disable_tracking": {"type": "string", "enum": ["true", "false"]},
    }
    email_example = {"subject": "Your one-time password", "body": "<p>Your code is 123456</p>",
                     "recipient": "someone@example.gov.sg", "cc": [], "bcc": [], "from": FROM,
                     "reply_to": "officer@agency.gov.sg", "classification": "FOR_INFO", "tag": "otp"}
    required = ("subject", "body", "recipient")
    return [
        op("POST", "/v1/transactional/email/send", "Email", "Send one email",
           "Sent at once; the answer is `ACCEPTED`. Later events move `status` to SENT, DELIVERED, OPENED, BOUNCED "
           "or COMPLAINT. The client (and its nodemailer transport) sends JSON; attachments need multipart. "
           "cc and bcc together at most 49. The caller's send rate limit applies (429).",
           ok(201, "Accepted.", ref("EmailMessageTransactional"), EMAIL_MESSAGE_EXAMPLE),
           errors=(400, 403, 413, *CALLER_ERRORS),
           body={"required": True, "content": {
               JSON: {"schema": obj(email_fields, required), "example": email_example},
               MULTIPART: {"schema": obj(multipart_fields, required),
                           "encoding": {"attachments": {"contentType": "application/octet-stream"}},
                           "example": {k: v for k, v in email_example.items() if k not in ("cc", "bcc")}},
           }}),
        op("GET", "/v1/transactional/email", "Email", "List sent emails",
           "The caller's transactional emails, newest first by default.",
           ok(200, "A page of emails.", ref("EmailMessageTransactionalList"),
              ref_example("EmailMessageTransactionalList")),
           errors=(400, *CALLER_ERRORS),
           params=[*list_parameters(EMAIL_STATUSES),
                   query("tag", {"type": "string"}, "Only emails sent with this `tag` (the upstream server's extra).",
                         "otp")]),
        op("GET", "/v1/transactional/email/{emailId}", "Email", "One sent email",
           "Another user's email is 404; a non-numeric id 400.",
           ok(200, "The email.", ref("EmailMessageTransactional"), EMAIL_MESSAGE_EXAMPLE),
           errors=(400, 404, *CALLER_ERRORS), params=[path_param("emailId", "The email's id.", example="42")]),
    ]
