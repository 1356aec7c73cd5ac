"""The document's ``components``: the contract's models (section 2 of the Postman v1 wire contract, named like the
generated client where it has a name), the error responses per status, shared parameters and the bearer scheme.

Schemas describe what this server answers, which is the contract's shape plus a few documented extras (``segments``
and ``encoding`` of SMS templates, the flat fields of the Telegram campaign). Timestamps the server has not set yet
are ``null``; the contract's client reads them as optional. OpenAPI 3.1, so schemas are plain JSON Schema 2020-12 and
``null`` is a type.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

WHEN = "2026-11-27T08:00:00.000Z"
LATER = "2026-11-27T08:00:05.120Z"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    widened = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        widened["enum"] = [*schema["enum"], None]
    return widened


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
DATE_TIME_OR_NULL: Schema = nullable(DATE_TIME)
STRING_OR_NULL: Schema = nullable(STRING)
STRINGS: Schema = {"type": "array", "items": STRING}

CHANNEL_TYPES = ["SMS", "EMAIL", "TELEGRAM"]
JOB_STATUSES = ["READY", "ENQUEUED", "SENDING", "SENT", "STOPPED", "LOGGED"]
EMAIL_STATUSES = ["UNSENT", "ACCEPTED", "SENT", "BOUNCED", "DELIVERED", "OPENED", "COMPLAINT"]
SMS_STATUSES = ["UNSENT", "ACCEPTED", "SENT", "DELIVERED", "ERROR"]
CLASSIFICATIONS = ["URGENT", "FOR_ACTION", "FOR_INFO"]
TRANSACTIONAL_SORTS = ["created_at", "+created_at", "-created_at", "updated_at", "+updated_at", "-updated_at"]

# Status -> (component name, the codes this status carries, an example).
ERRORS: dict[int, tuple[str, list[str], Schema]] = {
    400: ("Error400Response", ["api_validation", "invalid_recipient", "invalid_credentials", "malformed",
                               "invalid_parameters", "invalid_from_address", "invalid_template",
                               "invalid_credential_label"],
          {"code": "api_validation", "message": '"name" is required'}),
    401: ("Error401Response", ["unathenticated"],
          {"code": "unathenticated",
           "message": "Sign in first, or send an API key in an 'Authorization: Bearer <API key>' header"}),
    403: ("Error403Response", ["unauthorized", "already_sent", "wrong_password"],
          {"code": "already_sent", "message": "Campaign 20 has already been sent"}),
    404: ("Error404Response", ["not_found"], {"code": "not_found", "message": "Campaign not found"}),
    405: ("Error405Response", ["method_not_allowed"],
          {"code": "method_not_allowed", "message": "DELETE is not allowed on /v1/campaigns; use GET, POST"}),
    410: ("Error410Response", ["campaign_redacted", "message_expired"],
          {"code": "campaign_redacted", "message": "Campaign 20 has been redacted: its recipients are gone"}),
    413: ("Error413Response", ["attachment_limit"],
          {"code": "attachment_limit", "message": "The attachments add up to more than 10 MB"}),
    429: ("Error429Response", ["rate_limit", "message_locked"],
          {"code": "rate_limit", "message": "Too many requests: at most 10 per second; try again in 1 s"}),
    500: ("Error500Response", ["internal_server"],
          {"code": "internal_server", "message": "Internal server error (request id 6f1c0d2e)"}),
    503: ("Error503Response", ["service_unavailable"],
          {"code": "service_unavailable", "message": "A service is unavailable, please try again later"}),
}

ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `message` names the field and the problem.",
    401: "No API key or session, or one that is not valid (`unathenticated`, the contract's spelling).",
    403: "Not allowed: `unauthorized`, or `already_sent` for a campaign that has already been sent.",
    404: "Not found: an unknown id, or one that belongs to another user.",
    405: "The path exists but not with this method; the `Allow` header lists the methods it has.",
    410: "The campaign has been redacted: its recipients are gone.",
    413: "The request body is too large (`attachment_limit`).",
    429: "Too many requests: the `Retry-After` header says how many seconds to wait.",
    500: "An unexpected failure; `message` carries the request id to quote.",
    503: "A service behind the gateway is unavailable; try again later.",
}


def _error_schemas() -> dict[str, Schema]:
    return {
        name: obj({"code": {"type": "string", "enum": codes}, "message": STRING}, ("code", "message"),
                  examples=[example])
        for name, codes, example in ERRORS.values()
    }


SENDER_ADDRESS: dict[str, Schema] = {
    "id": INTEGER,
    "email": {"type": "string", "format": "email", "description": "Lower-cased."},
    "status": {"type": "string", "enum": ["PENDING", "VERIFIED"],
               "description": "VERIFIED: email may be sent from it. PENDING: its confirmation link was not followed."},
    "method": {"type": "string", "enum": ["ses", "link"],
               "description": "How it is proven: SES holds the address verified, or the link mailed to it."},
    "created_at": DATE_TIME,
    "verified_at": DATE_TIME_OR_NULL,
    "confirm_expires_at": {**DATE_TIME_OR_NULL, "description": "PENDING: when the mailed link stops working."},
}
SENDER_ADDRESS_EXAMPLE = {"id": 4, "email": "noreply@agency.gov.sg", "status": "VERIFIED", "method": "link",
                          "created_at": WHEN, "verified_at": LATER, "confirm_expires_at": None}

JOB_QUEUE = obj({"status": ref("JobStatus"), "sent_at": DATE_TIME_OR_NULL, "status_updated_at": DATE_TIME_OR_NULL,
                 "scheduled_at": {**DATE_TIME_OR_NULL,
                                  "description": "An extra key: when a `READY` job is released; null when the send "
                                                 "was not scheduled."}},
                description="One send job of the campaign.",
                examples=[{"status": "LOGGED", "sent_at": WHEN, "status_updated_at": LATER, "scheduled_at": None}])
JOB_QUEUES: Schema = {"type": "array", "items": ref("JobQueue")}

HALT_DETAILS: dict[str, Schema] = {
    "halt_reason": {**STRING_OR_NULL, "description": "An extra key: why the campaign's bounces or complaints halted "
                                                     "it (kept after a confirmed resume); null when it never was."},
    "halted_at": {**DATE_TIME_OR_NULL, "description": "An extra key: when it was halted."},
}
OUTCOMES_EXAMPLE = {"delivered": 4, "opened": 1, "hard_bounced": 0, "soft_bounced": 0, "complained": 0,
                    "blacklisted": 0, "invalid_rows": 0}

CAMPAIGN_META_EXAMPLE = {
    "id": 20, "name": "Appointment reminders", "created_at": WHEN, "type": "EMAIL", "has_credential": False,
    "valid": False, "halted": False, "protect": False, "redacted": False, "should_save_list": False, "job_queue": [],
    "halt_reason": None, "halted_at": None,
}

EMAIL_TEMPLATE = obj({"subject": STRING, "body": STRING, "reply_to": STRING_OR_NULL, "params": STRINGS,
                      "from": STRING,
                      "show_logo": {"type": "boolean", "description": "The agency's logo in the email's theme."}},
                     examples=[{"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}</p>",
                                "reply_to": None, "params": ["name"],
                                "from": "Postman <donotreply@mail.postman.gov.sg>", "show_logo": True}])

CHANNEL_TEMPLATE = obj(
    {"body": STRING, "params": STRINGS,
     "segments": {"type": "integer", "minimum": 1,
                  "description": "SMS only (an extra key): how many SMS parts the template takes."},
     "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"], "description": "SMS only (an extra key)."}},
    description="The client's `CampaignCampaignIdSmsTemplatePut200ResponseTemplate`.",
    examples=[{"body": "Dear {{name}}, your appointment is tomorrow.", "params": ["name"], "segments": 1,
               "encoding": "GSM-7"}])

_CAMPAIGN_COMMON: dict[str, Schema] = {
    "id": INTEGER, "name": STRING, "created_at": DATE_TIME, "type": ref("ChannelType"), "has_credential": BOOLEAN,
    "valid": BOOLEAN, "redacted": BOOLEAN, "csv_filename": STRING_OR_NULL, "is_csv_processing": BOOLEAN,
    "job_queue": JOB_QUEUES, "halted": {**BOOLEAN, "description": "An extra key here (it is in CampaignMeta)."},
    **HALT_DETAILS,
}

EMAIL_CAMPAIGN_EXAMPLE = {
    "id": 20, "name": "Appointment reminders", "created_at": WHEN, "type": "EMAIL", "has_credential": False,
    "valid": True, "protect": False, "redacted": False, "csv_filename": "recipients.csv", "is_csv_processing": False,
    "num_recipients": 5, "job_queue": [],
    "email_templates": {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}</p>", "reply_to": None,
                        "params": ["name"], "from": "Postman <donotreply@mail.postman.gov.sg>"},
}
SMS_CAMPAIGN_EXAMPLE = {
    "id": 21, "name": "SMS reminders", "created_at": WHEN, "type": "SMS", "has_credential": True, "valid": True,
    "redacted": False, "csv_filename": "numbers.csv", "is_csv_processing": False, "num_recipients": 6,
    "job_queue": [{"status": "LOGGED", "sent_at": WHEN, "status_updated_at": LATER}],
    "sms_templates": {"body": "Dear {{name}}, your appointment is tomorrow.", "params": ["name"], "segments": 1,
                      "encoding": "GSM-7"},
}
TELEGRAM_CAMPAIGN_EXAMPLE = {
    "id": 22, "name": "Telegram reminders", "created_at": WHEN, "type": "TELEGRAM", "has_credential": True,
    "valid": True, "redacted": False, "csv_filename": "subscribers.csv", "is_csv_processing": False,
    "job_queue": [], "telegram_templates": {"body": "<b>Dear {{name}}</b>", "params": ["name"]},
}

NOTIFICATION_CONTACTS: Schema = {
    "type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 5,
    "description": "Up to 5 addresses emailed, with the key's owner, 30, 7 and 1 days before the key expires "
                   "(`API_KEY_REMINDER_DAYS`) and when it is revoked. Lower-cased, each once."}
TEST_KEY: Schema = {"type": "boolean", "description": "A test key: what it sends goes through every check and "
                                                     "the whole pipeline, but the senders record a simulated outcome "
                                                     "instead of calling the provider."}

TIMESTAMP_FIELDS = ("updated_at", "accepted_at", "sent_at", "delivered_at", "opened_at")

EMAIL_MESSAGE_EXAMPLE: Schema = {
    "id": "42", "from": "Postman <donotreply@mail.postman.gov.sg>", "recipient": "someone@example.gov.sg",
    "params": {"subject": "Your one-time password", "body": "<p>Your code is 123456</p>",
               "from": "Postman <donotreply@mail.postman.gov.sg>", "reply_to": "officer@agency.gov.sg"},
    "attachments_metadata": None, "status": "ACCEPTED", "error_code": None, "error_sub_type": None,
    "created_at": WHEN, "updated_at": WHEN, "accepted_at": WHEN, "sent_at": None, "delivered_at": None,
    "opened_at": None, "classification": "FOR_INFO", "tag": "otp", "cc": [], "bcc": [],
}
SMS_MESSAGE_EXAMPLE: Schema = {
    "id": "7", "credentials_label": "alerts", "recipient": "+6591234567", "body": "Your code is 123456",
    "status": "ACCEPTED", "error_code": None, "created_at": WHEN, "updated_at": WHEN, "accepted_at": WHEN,
    "sent_at": None, "delivered_at": None, "errored_at": None,
}

THEMED_BODY = ("The whole email as it arrives: the body in the theme of the owner's agency (masthead, logo, footer "
               "with a stand-in unsubscribe link), HTML with inline styles.")
UPLOAD_STATUS_EXAMPLE = {
    "is_csv_processing": False, "num_recipients": 5, "csv_filename": "recipients.csv",
    "preview": {"subject": "Your appointment, A", "body": "<p>Dear A</p>", "replyTo": None,
                "from": "Postman <donotreply@mail.postman.gov.sg>"},
}


def schemas() -> dict[str, Schema]:
    return {
        "ChannelType": {"type": "string", "enum": CHANNEL_TYPES, "description": "GOVSG is out of scope."},
        "JobStatus": {"type": "string", "enum": JOB_STATUSES},
        "EmailMessageTransactionalStatusEnum": {"type": "string", "enum": EMAIL_STATUSES},
        "SmsMessageTransactionalStatusEnum": {"type": "string", "enum": SMS_STATUSES},
        "EmailMessageTransactionalClassificationEnum": {"type": "string", "enum": CLASSIFICATIONS},
        **_error_schemas(),
        "ErrorStatus": obj({"status": INTEGER, "message": STRING},
                           description="Defined by the contract; no endpoint answers with it."),
        # --- campaigns ---
        "CampaignIdObject": obj({"id": {"type": "string", "pattern": "^[0-9]+$"}}, ("id",), examples=[{"id": "20"}]),
        "JobQueue": JOB_QUEUE,
        "CampaignMeta": obj(
            {"id": INTEGER, "name": STRING, "created_at": DATE_TIME, "has_credential": BOOLEAN, "valid": BOOLEAN,
             "halted": BOOLEAN, "protect": BOOLEAN, "redacted": BOOLEAN, "should_save_list": BOOLEAN,
             "type": ref("ChannelType"), "job_queue": JOB_QUEUES, **HALT_DETAILS},
            examples=[CAMPAIGN_META_EXAMPLE]),
        "CampaignList": obj({"campaigns": {"type": "array", "items": ref("CampaignMeta")}, "total_count": COUNT},
                            examples=[{"campaigns": [CAMPAIGN_META_EXAMPLE], "total_count": 1}]),
        "CampaignDuplicateMeta": obj(
            {"id": INTEGER, "name": STRING, "type": ref("ChannelType"), "created_at": DATE_TIME, "protect": BOOLEAN},
            ("id", "name", "type", "created_at", "protect"),
            examples=[{"id": 23, "name": "Copy of Appointment reminders", "type": "EMAIL", "created_at": WHEN,
                       "protect": False}]),
        "Outcomes": obj(
            {name: COUNT for name in ("delivered", "opened", "hard_bounced", "soft_bounced", "complained",
                                      "blacklisted", "invalid_rows")},
            description="What the providers reported (an extra key): details of `sent` (delivered, opened: "
                        "messages whose latest report is that) and of `invalid` (bounced, complained about, "
                        "blacklisted: not sent because the address is on the suppression list; and the file's "
                        "invalid rows).",
            examples=[OUTCOMES_EXAMPLE]),
        "CampaignStats": obj(
            {"error": COUNT, "unsent": COUNT, "sent": COUNT, "invalid": COUNT, "halted": BOOLEAN,
             "redacted": BOOLEAN, "status": ref("JobStatus"), "updated_at": DATE_TIME_OR_NULL,
             "unsubscribed": {**COUNT, "description": "Not sent: the number replied STOP or blocked the bot (an "
                                                      "extra key for SMS and Telegram)."},
             "outcomes": ref("Outcomes"),
             "segments": {"type": "integer", "minimum": 1, "description": "SMS only (an extra key)."},
             "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"], "description": "SMS only (an extra key)."}},
            description="Counters of an SMS or Telegram campaign; unsent + sent + error + invalid + unsubscribed = "
                        "recipients.",
            examples=[{"error": 1, "unsent": 0, "sent": 5, "invalid": 0, "unsubscribed": 0, "halted": False,
                       "redacted": False, "status": "LOGGED", "updated_at": LATER, "outcomes": OUTCOMES_EXAMPLE}]),
        "EmailCampaignStats": {
            "allOf": [ref("CampaignStats"), obj({"unsubscribed": COUNT}, ("unsubscribed",))],
            "description": "The client's `CampaignCampaignIdEmailStatsGet200Response`.",
            "examples": [{"error": 0, "unsent": 0, "sent": 5, "invalid": 0, "unsubscribed": 0, "halted": False,
                          "redacted": False, "status": "LOGGED", "updated_at": LATER, "outcomes": OUTCOMES_EXAMPLE}],
        },
        "CampaignRecipient": obj(
            {"recipient": STRING, "status": STRING, "updated_at": DATE_TIME_OR_NULL, "error_code": STRING_OR_NULL,
             "error_sub_type": {**STRING_OR_NULL, "description": "A bounce's sub-type (NoEmail, MailboxFull...) or a "
                                                                 "complaint's type (abuse...): an extra key."}},
            examples=[{"recipient": "+6591234567", "status": "SENT", "updated_at": LATER, "error_code": None,
                       "error_sub_type": None}]),
        "EmailExportRow": {
            "allOf": [ref("CampaignRecipient"),
                      obj({"unsubscriber.recipient": STRING_OR_NULL, "unsubscriber.reason": STRING_OR_NULL})],
            "examples": [{"recipient": "officer0@example.gov.sg", "status": "INVALID_RECIPIENT", "updated_at": LATER,
                          "error_code": "hard_bounce", "error_sub_type": "NoEmail", "unsubscriber.recipient": None,
                          "unsubscriber.reason": None}],
        },
        "StopResult": obj({"campaign_id": INTEGER, "status": ref("JobStatus")}, ("campaign_id", "status"),
                          examples=[{"campaign_id": 20, "status": "STOPPED"}]),
        "Unsubscriber": obj({"campaignId": INTEGER, "recipient": STRING, "createdAt": DATE_TIME},
                            ("campaignId", "recipient", "createdAt"),
                            examples=[{"campaignId": 20, "recipient": "ana@example.com", "createdAt": LATER}]),
        "Resubscribed": obj({"campaignId": INTEGER, "recipient": STRING}, ("campaignId", "recipient"),
                            examples=[{"campaignId": 20, "recipient": "ana@example.com"}]),
        "ChannelTemplate": CHANNEL_TEMPLATE,
        "EmailTemplate": EMAIL_TEMPLATE,
        "EmailCampaign": obj(
            {**_CAMPAIGN_COMMON, "protect": BOOLEAN, "num_recipients": COUNT,
             "email_templates": nullable(ref("EmailTemplate"))},
            examples=[EMAIL_CAMPAIGN_EXAMPLE]),
        "SMSCampaign": obj(
            {**_CAMPAIGN_COMMON, "num_recipients": COUNT, "sms_templates": nullable(ref("ChannelTemplate")),
             "cost_per_message": {"type": "number", "description": "Not reported by this server."}},
            examples=[SMS_CAMPAIGN_EXAMPLE]),
        "TelegramCampaign": obj(
            {**_CAMPAIGN_COMMON, "telegram_templates": nullable(ref("ChannelTemplate"))},
            examples=[TELEGRAM_CAMPAIGN_EXAMPLE]),
        "TelegramCampaignDetails": {
            "allOf": [ref("TelegramCampaign"),
                      obj({"campaign": ref("TelegramCampaign"), "num_recipients": COUNT})],
            "description": "The client's wrapper `{campaign, num_recipients}`; the campaign's fields are repeated "
                           "at the top level for callers written against the upstream server.",
            "examples": [{"campaign": TELEGRAM_CAMPAIGN_EXAMPLE, "num_recipients": 41, **TELEGRAM_CAMPAIGN_EXAMPLE}],
        },
        "TwilioCredentials": obj(
            {"twilio_account_sid": STRING, "twilio_api_key": STRING, "twilio_api_secret": STRING,
             "twilio_messaging_service_sid": STRING}),
        "MessageResult": obj({"message": STRING}, ("message",), examples=[{"message": "OK"}],
                             description="The client's `CampaignCampaignIdEmailCredentialsPost200Response`."),
        "SendResult": obj({"campaign_id": INTEGER, "job_id": {"type": "array", "items": INTEGER}},
                          examples=[{"campaign_id": 20, "job_id": [31]}]),
        "RetryResult": obj({"campaign_id": INTEGER}, examples=[{"campaign_id": 20}]),
        "UploadStartResult": obj(
            {"presigned_url": {"type": "string", "format": "uri"}, "transaction_id": STRING},
            ("presigned_url", "transaction_id"),
            examples=[{"presigned_url": "http://localhost:8080/uploads/0b5c7f3e.csv?expires=1795766405&md5="
                                        "1B2M2Y8AsgTpgAmY7PhCfg%3D%3D&signature=3f1a9c",
                       "transaction_id": "0b5c7f3e-4c1d-4a47-9a57-5f1e1f0c9d11"}]),
        "EmailUploadPreview": obj(
            {"subject": STRING, "body": STRING, "replyTo": STRING_OR_NULL, "from": STRING,
             "showMasthead": {**BOOLEAN, "description": "The email carries the government masthead line."},
             "agencyLogoURI": {**STRING, "description": "The logo the email shows; empty when none (no logo, or the "
                                                        "template's `show_logo` is false)."},
             "agencyName": {**STRING, "description": "The agency of the campaign's owner, in the email's footer."},
             "themedBody": {**STRING, "description": THEMED_BODY}},
            ("subject", "body", "from"),
            description="camelCase keys, as in the contract (unlike the preview endpoint's).",
            examples=[UPLOAD_STATUS_EXAMPLE["preview"]]),
        "ChannelUploadPreview": obj(
            {"body": STRING, "segments": {"type": "integer", "minimum": 1}, "encoding": STRING},
            examples=[{"body": "Dear A, your appointment is tomorrow.", "segments": 1, "encoding": "GSM-7"}]),
        "EmailUploadStatus": obj(
            {"is_csv_processing": BOOLEAN, "csv_filename": STRING, "temp_csv_filename": STRING, "csv_error": STRING,
             "num_recipients": COUNT, "preview": ref("EmailUploadPreview")},
            examples=[UPLOAD_STATUS_EXAMPLE]),
        "ChannelUploadStatus": obj(
            {"is_csv_processing": BOOLEAN, "csv_filename": STRING, "temp_csv_filename": STRING, "csv_error": STRING,
             "num_recipients": COUNT, "preview": ref("ChannelUploadPreview")},
            examples=[{"is_csv_processing": False, "num_recipients": 6, "csv_filename": "numbers.csv",
                       "preview": {"body": "Dear A, your appointment is tomorrow.", "segments": 1,
                                   "encoding": "GSM-7"}}]),
        "EmailPreview": obj(
            {"preview": obj({"body": STRING, "subject": STRING, "reply_to": STRING_OR_NULL, "from": STRING,
                             "themed_body": {**STRING, "description": THEMED_BODY}}, ("body", "subject", "from"))},
            examples=[{"preview": {"body": "<p>Dear A</p>", "subject": "Your appointment, A", "reply_to": None,
                                   "from": "Postman <donotreply@mail.postman.gov.sg>"}}]),
        "ChannelPreview": obj({"preview": ref("ChannelUploadPreview")},
                              examples=[{"preview": {"body": "Dear A, your appointment is tomorrow.", "segments": 1,
                                                     "encoding": "GSM-7"}}]),
        "EmailTemplateResult": obj(
            {"message": STRING, "extra_keys": STRINGS, "valid": BOOLEAN, "num_recipients": COUNT,
             "template": ref("EmailTemplate")},
            ("message", "valid", "num_recipients"),
            examples=[{"message": "Template has been updated", "valid": False, "num_recipients": 0,
                       "template": EMAIL_TEMPLATE["examples"][0]}]),
        "ChannelTemplateResult": obj(
            {"message": STRING, "extra_keys": STRINGS, "valid": BOOLEAN, "num_recipients": COUNT,
             "template": ref("ChannelTemplate")},
            ("message", "valid", "num_recipients", "template"),
            examples=[{"message": "Template has been updated", "valid": True, "num_recipients": 6,
                       "template": CHANNEL_TEMPLATE["examples"][0]}]),
        "ProtectUploadStartResult": obj({"transaction_id": STRING, "presigned_urls": STRINGS}),
        "ProtectUploadCompleteResult": obj({"transaction_id": STRING}),
        "ProtectedPayload": obj({"payload": {"type": "string", "pattern": "^[A-Za-z0-9+/=]+[.][A-Za-z0-9+/=]+$",
                                             "description": "b64(ciphertext with its tag).b64(iv), AES-GCM-256: "
                                                            "the reader's browser decrypts it."}},
                                ("payload",)),
        # --- transactional ---
        "AttachmentMetadata": obj({"fileName": STRING, "fileSize": COUNT, "hash": STRING},
                                  ("fileName", "fileSize", "hash"),
                                  examples=[{"fileName": "letter.pdf", "fileSize": 48213, "hash": SHA256}]),
        "EmailMessageTransactional": obj(
            {"id": {"type": "string", "pattern": "^[0-9]+$"}, "from": STRING, "recipient": STRING,
             "params": obj({"body": STRING, "from": STRING, "subject": STRING, "reply_to": STRING_OR_NULL}),
             "attachments_metadata": nullable({"type": "array", "items": ref("AttachmentMetadata")}),
             "status": ref("EmailMessageTransactionalStatusEnum"), "error_code": STRING_OR_NULL,
             "error_sub_type": STRING_OR_NULL, "created_at": DATE_TIME,
             **{name: DATE_TIME_OR_NULL for name in TIMESTAMP_FIELDS},
             "classification": nullable({"type": "string", "enum": CLASSIFICATIONS}),
             "tag": STRING_OR_NULL, "cc": STRINGS, "bcc": STRINGS},
            description="`classification`, `tag`, `cc` and `bcc` are extra keys the client ignores.",
            examples=[EMAIL_MESSAGE_EXAMPLE]),
        "SmsMessageTransactional": obj(
            {"id": {"type": "string", "pattern": "^[0-9]+$"}, "credentials_label": STRING, "recipient": STRING,
             "body": STRING, "status": ref("SmsMessageTransactionalStatusEnum"), "error_code": STRING_OR_NULL,
             **{name: DATE_TIME_OR_NULL for name in ("created_at", "updated_at", "accepted_at", "sent_at",
                                                     "delivered_at", "errored_at")}},
            examples=[SMS_MESSAGE_EXAMPLE]),
        "EmailMessageTransactionalList": obj(
            {"has_more": BOOLEAN, "data": {"type": "array", "items": ref("EmailMessageTransactional")}},
            ("has_more", "data"), examples=[{"has_more": False, "data": [EMAIL_MESSAGE_EXAMPLE]}]),
        "SmsMessageTransactionalList": obj(
            {"has_more": BOOLEAN, "data": {"type": "array", "items": ref("SmsMessageTransactional")}},
            ("has_more", "data"), examples=[{"has_more": True, "data": [SMS_MESSAGE_EXAMPLE]}]),
        "CreatedAtFilter": obj({"gt": DATE_TIME, "gte": DATE_TIME, "lt": DATE_TIME, "lte": DATE_TIME},
                               minProperties=1,
                               description="Sent as `created_at.gt=…` (the client) or `created_at[gt]=…`."),
        # --- this platform's own ---
        "UserInfo": obj({"id": INTEGER, "email": {"type": "string", "format": "email"}, "rate_limit": COUNT,
                         "authenticated_by": {"type": "string", "enum": ["api_key", "session"]}},
                        ("id", "email", "rate_limit", "authenticated_by"),
                        examples=[{"id": 3, "email": "officer@agency.gov.sg", "rate_limit": 10,
                                   "authenticated_by": "api_key"}]),
        "ApiKey": obj({"id": INTEGER, "label": STRING, "last_five": STRING, "created_at": DATE_TIME,
                       "last_used_at": DATE_TIME_OR_NULL, "expires_at": DATE_TIME_OR_NULL, "test": TEST_KEY,
                       "notification_contacts": NOTIFICATION_CONTACTS},
                      ("id", "label", "last_five", "created_at"),
                      examples=[{"id": 5, "label": "laptop", "last_five": "x7Q2a", "created_at": WHEN,
                                 "last_used_at": LATER, "expires_at": "2027-05-26T08:00:00.000Z", "test": False,
                                 "notification_contacts": ["team@agency.gov.sg"]}]),
        "CreatedApiKey": obj({"id": INTEGER, "label": STRING, "api_key": STRING, "last_five": STRING,
                              "created_at": DATE_TIME, "expires_at": DATE_TIME_OR_NULL, "test": TEST_KEY,
                              "notification_contacts": NOTIFICATION_CONTACTS},
                             ("id", "label", "api_key", "last_five", "created_at"),
                             examples=[{"id": 5, "label": "laptop", "api_key": "live_v1_Zq3...x7Q2a",
                                        "last_five": "x7Q2a", "created_at": WHEN,
                                        "expires_at": "2027-05-26T08:00:00.000Z", "test": False,
                                        "notification_contacts": ["team@agency.gov.sg"]}]),
        "ApiKeyIdObject": obj({"id": INTEGER}, ("id",), examples=[{"id": 5}]),
        "SenderAddress": obj(SENDER_ADDRESS, tuple(SENDER_ADDRESS), examples=[SENDER_ADDRESS_EXAMPLE]),
        "SenderAddresses": obj(
            {"from": {**STRINGS, "description": "Postman's list: what the caller may send from, their verified "
                                                "addresses, then the default `EMAIL_FROM`."},
             "addresses": {"type": "array", "items": ref("SenderAddress"),
                           "description": "Every address of the caller, verified or waiting for its link."}},
            ("from", "addresses"),
            examples=[{"from": ["noreply@agency.gov.sg", "Postman <donotreply@mail.postman.gov.sg>"],
                       "addresses": [SENDER_ADDRESS_EXAMPLE]}]),
        "SenderAddressVerification": obj(
            {**SENDER_ADDRESS, "message": {**STRING, "description": "What happens next, in words."}},
            (*SENDER_ADDRESS, "message"),
            examples=[{**SENDER_ADDRESS_EXAMPLE, "status": "PENDING", "method": "link", "verified_at": None,
                       "confirm_expires_at": LATER,
                       "message": "A confirmation link was emailed to noreply@agency.gov.sg. Follow it within 24 "
                                  "hours to send email from this address."}]),
        "SenderAddressIdObject": obj({"id": INTEGER}, ("id",), examples=[{"id": 4}]),
    }


def responses() -> dict[str, Schema]:
    """One reusable error response per status, each with the contract's ``{code, message}`` body."""
    built: dict[str, Schema] = {}
    for status, (name, _codes, example) in ERRORS.items():
        response: Schema = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ref(name), "example": example}},
        }
        if status == 429:
            response["headers"] = {"Retry-After": {"description": "Whole seconds to wait before asking again.",
                                                   "schema": {"type": "integer", "minimum": 1}}}
        if status == 405:
            response["headers"] = {"Allow": {"description": "The methods this path has.", "schema": STRING}}
        built[f"Error{status}"] = response
    return built


SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer <apiKey>` (the header name in any case; the scheme "
                       "exactly `Bearer`). Create one with `postmanctl create-api-key` or `POST /v1/api-key`.",
    },
    "sessionCookie": {
        "type": "apiKey", "in": "cookie", "name": "postman_session",
        "description": "The session cookie `POST /v1/auth/login` sets (the web interface's way in).",
    },
}
