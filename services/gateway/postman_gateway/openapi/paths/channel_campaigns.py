"""The ``Email campaigns``, ``SMS campaigns`` and ``Telegram campaigns`` tags (contract section 4): one campaign's
routes, generated from one matrix for the three channels, since they differ only in a few shapes."""

from __future__ import annotations

from typing import Any

from postman_gateway.openapi.paths.building import (
    CAMPAIGN_ERRORS,
    CAMPAIGN_ID,
    FROM,
    MD5,
    Operation,
    json_body,
    ok,
    op,
    optional_body,
    query,
    ref_example,
)
from postman_gateway.openapi.schemas import STRING, obj, ref

RATE = {"sms": {"type": "integer", "minimum": 1, "description": "SMS per second (default SMS_DEFAULT_RATE)."},
        "telegram": {"type": "integer", "minimum": 1, "maximum": 30, "default": 30,
                     "description": "Messages per second (at most TELEGRAM_MAX_RATE)."}}
SCHEDULED_TIMING = {"type": "string", "format": "date-time",
                    "description": "Send at this time instead of now (a time in the past sends now)."}
LABEL = {"type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 1, "maxLength": 50}
UPLOAD_COMPLETE = {"transaction_id": "0b5c7f3e-4c1d-4a47-9a57-5f1e1f0c9d11", "filename": "recipients.csv",
                   "etag": '"d41d8cd98f00b204e9800998ecf8427e"'}
TWILIO = {"twilio_account_sid": "AC0123456789abcdef0123456789abcdef",
          "twilio_api_key": "SK0123456789abcdef0123456789abcdef", "twilio_api_secret": "your-api-secret",
          "twilio_messaging_service_sid": "MG0123456789abcdef0123456789abcdef"}
NOT_HERE = ("Managed lists do not exist on this platform: after the ownership check this answers 400 "
            "`invalid_parameters` and the campaign is unchanged.")
PROTECTED_FILE = (" The file is Postman's `recipient,payload,passwordhash,id` (version 1) or this platform's "
                  "`recipient,payload,accesshash,id,salt,iterations` (version 2): see docs/protected-messages.md. "
                  "Each row is checked (address, base64, the id a UUID used nowhere else) and an error names the "
                  "line and column, as for any upload.")


def operations(channel: str) -> list[Operation]:
    """Section 4's matrix for one channel (``email``, ``sms`` or ``telegram``)."""
    tag = {"email": "Email campaigns", "sms": "SMS campaigns", "telegram": "Telegram campaigns"}[channel]
    base = f"/v1/campaign/{{campaignId}}/{channel}"
    email, sms, telegram = channel == "email", channel == "sms", channel == "telegram"
    name = {"email": "EmailCampaign", "sms": "SMSCampaign", "telegram": "TelegramCampaignDetails"}[channel]
    id_result = (ok(200, "Done.", ref("CampaignIdObject"), {"id": "20"}))

    def at(method: str, sub: str, summary: str, description: str, responses: dict[int, dict[str, Any]],
           errors: tuple[int, ...] = CAMPAIGN_ERRORS, params: list[dict[str, Any]] | None = None,
           body: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
        return op(method, base + sub, tag, summary, description, responses, errors, [CAMPAIGN_ID, *(params or [])],
                  body)

    if email:
        template_body = json_body(
            obj({"subject": {"type": "string", "minLength": 1}, "body": {"type": "string", "minLength": 1},
                 "reply_to": {"type": ["string", "null"]}, "from": {"type": "string"},
                 "show_logo": {"type": "boolean", "default": True}}, ("subject", "body", "reply_to", "from")),
            {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}</p>", "reply_to": None, "from": FROM},
            description="`reply_to` must be present and may be null. `{{ key }}` tags; HTML is sanitised. `from`: "
                        "the default address with any display name (saved as \"<name> via Postman <address>\"), or "
                        "an address the caller verified (`/v1/settings/email/from`); else 400 "
                        "`invalid_from_address`, here and again at send. `subject` and `body` may each be at most "
                        "`EMAIL_TEMPLATE_MAX_BYTES` UTF-8 bytes (131,072 by default); a larger one is a 400 "
                        "`api_validation` naming the field and the limit.")
        template_result = ok(200, "The saved template and whether the campaign can be sent.",
                             ref("EmailTemplateResult"), ref_example("EmailTemplateResult"))
    else:
        template_body = json_body(obj({"body": {"type": "string", "minLength": 1}}),
                                  {"body": "Dear {{name}}, your appointment is tomorrow."},
                                  description="The 200-character limit of the spec is not enforced (contract §7)."
                                  + (" Telegram HTML; other tags are removed." if telegram else "")
                                  + " `body` may be at most "
                                  + ("`TELEGRAM_TEMPLATE_MAX_BYTES` UTF-8 bytes (65,536 by default)" if telegram
                                     else "`SMS_TEMPLATE_MAX_BYTES` UTF-8 bytes (16,384 by default)")
                                  + "; a larger one is a 400 `api_validation` naming the field and the limit.")
        template_result = ok(200, "The saved template.", ref("ChannelTemplateResult"),
                             ref_example("ChannelTemplateResult"))
    upload_status = "EmailUploadStatus" if email else "ChannelUploadStatus"
    no_body = optional_body(obj({}), {}, "No data. The client posts none (axios adds a form content type); "
                                         "anything sent is ignored.")
    operations = [
        at("GET", "", "Campaign details", "The campaign, its template and its recipient list.",
           ok(200, "The campaign.", ref(name), ref_example(name))),
        at("PUT", "/template", "Save the template", "Saves the template; says which keys it uses and whether the "
           "recipient list has them all.", template_result, body=template_body),
        at("GET", "/upload/start", "Start a recipient list upload",
           "A presigned URL to PUT the CSV to (with `Content-Type` = `mime_type` and `Content-MD5` = `md5`), and a "
           "transaction id for `upload/complete`.",
           ok(200, "Where to upload.", ref("UploadStartResult"), ref_example("UploadStartResult")),
           params=[query("mime_type", {"type": "string", "minLength": 1},
                         "The file's type: `text/csv` (also `application/vnd.ms-excel`, `text/plain`). An extension "
                         "of v1 also takes spreadsheets and tab-separated files: `application/vnd.openxmlformats-"
                         "officedocument.spreadsheetml.sheet` (.xlsx), `application/vnd.oasis.opendocument."
                         "spreadsheet` (.ods) and `text/tab-separated-values` (.tsv). The first sheet is read; "
                         "the kind of file is told by its content and the `filename` of `upload/complete`.",
                         "text/csv", True),
                   query("md5", {"type": "string", "minLength": 1}, "The file's MD5, base64.", MD5, True)]),
        at("POST", "/upload/complete", "Finish a recipient list upload",
           "The file is then processed in the background: poll `upload/status`. `etag` is optional. The client "
           "sends `{}` when called without arguments (a 400 naming `transaction_id`).",
           ok(202, "Accepted for processing.", ref("CampaignIdObject"), {"id": "20"}),
           body=json_body(obj({"transaction_id": {"type": "string", "minLength": 1},
                               "filename": {"type": "string", "minLength": 1}, "etag": {"type": "string"}},
                              ("transaction_id", "filename")), UPLOAD_COMPLETE)),
        at("GET", "/upload/status", "Recipient list status",
           "Processing, recipient count, preview with the first row, or the error (line and field).",
           ok(200, "The upload's state.", ref(upload_status), ref_example(upload_status))),
        at("DELETE", "/upload/status", "Clear a failed upload's error", "Clears the error of a failed upload.",
           id_result),
        at("POST", "/credentials", "Use credentials for the campaign",
           {"email": "Sends a test email of the template to `recipient` and attaches the default email credential. "
                     "`{}` (the client without arguments) is a 400 `invalid_recipient`. A test email is a send: it "
                     "counts against the caller's send limit and against `TEST_EMAILS_PER_CAMPAIGN_PER_DAY` (20) "
                     "for this campaign; past either, 429 `rate_limit` with `Retry-After` (503 while the limiter "
                     "is unreachable). With a test API key it is simulated: no provider is called.",
            "sms": "Uses the saved Twilio credential `label`, after a test SMS to `recipient`.",
            "telegram": "Uses the saved bot `label`."}[channel],
           ok(200, "The credential is the campaign's.", ref("MessageResult"), {"message": "OK"}),
           body=json_body(
               obj({"recipient": {"type": "string"}}, ("recipient",)) if email
               else obj({"recipient": {"type": "string"}, "label": {"type": "string"}}) if sms
               else obj({"label": {"type": "string"}}),
               {"recipient": "officer@agency.gov.sg"} if email
               else {"recipient": "+6591234567", "label": "moh-sms"} if sms else {"label": "agency-bot"},
               required=False)),
    ]
    if not email:
        operations.append(at(
            "POST", "/new-credentials", "Add new credentials",
            "Checks new credentials (Twilio: a test SMS to `recipient`; Telegram: getMe and the webhook) and "
            "assigns them; stored sealed, and saved for reuse when `label` is given.",
            ok(200, "Checked and assigned.", ref("MessageResult"), {"message": "OK"}),
            body=json_body(
                {"allOf": [ref("TwilioCredentials"), obj({"recipient": {"type": "string"}, "label": LABEL})]} if sms
                else obj({"telegram_bot_token": {"type": "string"}, "label": LABEL}),
                {**TWILIO, "recipient": "+6591234567", "label": "moh-sms"} if sms
                else {"telegram_bot_token": "123456789:AAExampleTokenFromBotFather0123456", "label": "agency-bot"},
                required=False)))
    if telegram:
        operations.append(at(
            "POST", "/credentials/verify", "Send a test message",
            "A test message with the campaign's bot to `recipient`, a phone number subscribed to the bot.",
            ok(200, "Sent.", ref("MessageResult"), {"message": "OK"}),
            body=json_body(obj({"recipient": {"type": "string"}}), {"recipient": "+6591234567"}, required=False)))
    preview = "EmailPreview" if email else "ChannelPreview"
    stats = "EmailCampaignStats" if email else "CampaignStats"
    export_row = "EmailExportRow" if email else "CampaignRecipient"
    send_schema = obj({"scheduledTiming": SCHEDULED_TIMING} if email else
                      {"rate": RATE[channel], "scheduledTiming": SCHEDULED_TIMING})
    operations += [
        at("GET", "/preview", "Preview", "The template rendered with the first recipient; a redacted campaign (its "
           "recipients deleted `CAMPAIGN_RETENTION_DAYS` after it finished) is 410 `campaign_redacted`.",
           ok(200, "The preview.", ref(preview), ref_example(preview)), errors=(410, *CAMPAIGN_ERRORS)),
        at("POST", "/send", "Send the campaign",
           ("No body (axios adds a form content type); `scheduledTiming` may come as JSON or form data. "
            if email else "`{}` when the client is called without arguments. ")
           + "A campaign already sent is 403 `already_sent`. With `scheduledTiming` in the future the job waits "
             "(`READY`) until then.",
           ok(200, "The send job(s).", ref("SendResult"), {"campaign_id": 20, "job_id": [31]}),
           body=(optional_body(send_schema, {"scheduledTiming": "2026-11-28T01:00:00.000Z"},
                               "Optional; empty or form-encoded is fine.") if email
                 else json_body(send_schema, {"rate": 10}, required=False))),
        at("POST", "/retry", "Retry failed messages, or resume",
           "Sends again the messages that failed; for a stopped or halted job, also those never sent (the resume: "
           "possible five seconds after the stop, it sends each message once). A halted campaign needs "
           "`{\"confirm_halted\": true}`: without it, a 400 that says why it was halted. Otherwise no body. A "
           "redacted campaign (its recipients deleted) is 410 `campaign_redacted`.",
           ok(200, "The retry job.", ref("RetryResult"), {"campaign_id": 20}),
           body=optional_body(obj({"confirm_halted": {
               "type": "boolean", "default": False,
               "description": "An extension of v1: the owner confirms sending the rest of a halted campaign."}}),
               {"confirm_halted": True}, "No data, or `confirm_halted` to resume a halted campaign."),
           errors=(410, *CAMPAIGN_ERRORS)),
        at("POST", "/stop", "Stop sending",
           "An extension of v1. Stops the campaign's send: within about a second no further message is handed to a "
           "provider; what was not handed over stays `unsent`, and `retry` resumes it. A campaign that is not "
           "sending is a 400 that says what to do instead (a scheduled one: cancel it).",
           ok(200, "Stopped.", ref("StopResult"), {"campaign_id": 20, "status": "STOPPED"}), body=no_body),
        at("GET", "/stats", "Counters",
           "Counters; `status` is `LOGGED` when every message has an outcome; unsent + sent + error + invalid + "
           "unsubscribed = recipients. `outcomes` details what the providers reported (extra keys).",
           ok(200, "The counters.", ref(stats), ref_example(stats))),
        at("POST", "/refresh-stats", "Recount", "Recounts from the messages' outcomes, then answers as `stats`.",
           ok(200, "The counters.", ref(stats), ref_example(stats)), body=no_body),
        at("GET", "/export", "Export",
           "A redacted campaign (its recipients deleted `CAMPAIGN_RETENTION_DAYS` after it finished; `redacted` is "
           "true in its details and stats, which keep their counts) is 410 `campaign_redacted`. "
           "Every recipient with its status (UNSENT, INVALID, SENT, DELIVERED, READ, INVALID_RECIPIENT, ERROR, "
           "BLACKLISTED, UNSUBSCRIBED) and error code (streamed). At most `EXPORTS_PER_USER` (2) of a user's "
           "exports stream at once, the page's CSV downloads included: another is 429 `rate_limit` with "
           "`Retry-After`"
           + ("; the unsubscriber fields are set for recipients who unsubscribed through this campaign's link."
              if email else "."),
           ok(200, "The rows.", {"type": "array", "items": ref(export_row)}, [ref_example(export_row)]),
           errors=(410, *CAMPAIGN_ERRORS)),
        at("POST", "/duplicate", "Duplicate", "A copy of the campaign and its template (not its recipients nor its "
           "credential). `name` is " + ("optional (default `Copy of <name>`)." if telegram else "required."),
           ok(201, "The copy.", ref("CampaignDuplicateMeta"), ref_example("CampaignDuplicateMeta")),
           body=json_body(obj({"name": {"type": "string", "minLength": 1}}, () if telegram else ("name",)),
                          {"name": "Copy of Appointment reminders"}, required=not telegram)),
    ]
    if not telegram:
        operations.append(at(
            "POST", "/select-list", "Use a managed list", NOT_HERE,
            ok(201, "The campaign." if email else "Done.", ref("CampaignMeta") if email else obj({}),
               ref_example("CampaignMeta") if email else {}),
            body=json_body(obj({"list_id": {"type": "integer"}}), {"list_id": 1})))
    if email:
        operations += [
            at("GET", "/protect/upload/start", "Start a protected upload",
               "A password-protected campaign's file of encrypted messages, uploaded in `part_count` parts: PUT "
               "each part to its URL (in order) and keep each answer's `ETag`. A campaign that is not "
               "password-protected answers 400." + PROTECTED_FILE,
               ok(200, "Where to upload the parts.", ref("ProtectUploadStartResult"),
                  {"transaction_id": "t-1", "presigned_urls": ["https://bucket/part1"]}),
               params=[query("mime_type", {"type": "string"}, "The file's type.", "text/csv", True),
                       query("part_count", {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
                             "How many parts.", 1, True)]),
            at("POST", "/protect/upload/complete", "Finish a protected upload",
               "Joins the parts (each checked against its ETag) and checks the file in the background, like "
               "`upload/complete`; follow it with `upload/status`. 202 (upstream's answer; the client takes any "
               "2xx)." + PROTECTED_FILE,
               ok(202, "Accepted: the file is being checked.", ref("ProtectUploadCompleteResult"),
                  {"transaction_id": "t-1"}),
               body=json_body(obj({"filename": STRING, "transaction_id": STRING, "part_count": {"type": "integer"},
                                   "etags": {"type": "array", "items": STRING}},
                                  ("filename", "transaction_id", "part_count", "etags")),
                              {"filename": "protected.csv", "transaction_id": "t-1", "part_count": 1,
                               "etags": ['"abc"']}, required=False)),
        ]
    return operations
