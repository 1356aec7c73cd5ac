"""``/v1/transactional/email``: send one email at once, list and get them.

``POST /send`` takes JSON (what the Postman client and its nodemailer transport send) or ``multipart/form-data``
(the spec's other form, the only one that can carry ``attachments``: the field repeated per file; ``cc`` and ``bcc``
as repeated fields or one JSON-stringified array). The gateway reads the request, checks the attachments (at most
10 MB together, else 413 ``attachment_limit``; each file's content must be the allowed type its name says, see
``attachment_types``) and hands everything to sender-email, which checks the rest (one recipient address, at most
49 copies, the sender, the body's size), records the email, sends it during the call through a transport of its own
and answers once the provider has taken it: a successful answer is ``201`` with ``status`` ``ACCEPTED``. Later
events (SES) move it to SENT, DELIVERED, OPENED, BOUNCED or COMPLAINT.

``from`` may only be the default sender (``EMAIL_FROM``), with any display name: there is no store of senders
verified for a user yet. ``reply_to`` defaults to the caller's own address. JSON cannot carry attachments: an
``attachments`` key there is a 400 that says to use multipart.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from postman.v1 import senders_pb2
from postman.v1 import transactional_email_pb2 as pb
from postman_gateway.api import attachment_types, transactional_query
from postman_gateway.core import limiting
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_gateway.core.body_limits import (
    TRANSACTIONAL_ATTACHMENT_BYTES,
    TRANSACTIONAL_FIELD_BYTES,
    TRANSACTIONAL_JSON_BYTES,
    TRANSACTIONAL_MULTIPART_BYTES,
)
from postman_gateway.core.errors import ErrorCode, api_validation
from postman_gateway.core.validation import json_body, positive_id, required_string
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import to_iso
from postman_shared.transactional_statuses import TransactionalEmailStatus

STATUSES = tuple(TransactionalEmailStatus)  # what ``status`` may filter by
# The sizes a send may have (decided with the routes' body limits, in ``core/body_limits.py``).
MAX_ATTACHMENT_BYTES = TRANSACTIONAL_ATTACHMENT_BYTES
MAX_FILE_NAME_CHARACTERS = 255
MAX_JSON_BYTES = TRANSACTIONAL_JSON_BYTES
MAX_FIELD_BYTES = TRANSACTIONAL_FIELD_BYTES
MAX_MULTIPART_BYTES = TRANSACTIONAL_MULTIPART_BYTES
# The provider is called during the request: SMTP's own timeout and retries, or SES with botocore's retries.
SEND_TIMEOUT_SECONDS = 60.0
TEXT_FIELDS = ("subject", "body", "recipient", "from", "reply_to", "tag", "classification")
_FOLDERS = re.compile(r"^.*[/\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

blueprint = Blueprint("transactional_email", __name__, url_prefix="/transactional/email")


def email_message(m: pb.TransactionalEmail) -> dict[str, Any]:
    """EmailMessageTransactional, plus the server's extra keys (classification, tag, cc, bcc)."""
    def when(name: str) -> str | None:
        return to_iso(getattr(m, name)) if m.HasField(name) else None

    return {
        "id": str(m.id),
        "from": m.from_address,
        "recipient": m.recipient,
        "params": {"body": m.body, "from": m.from_address, "subject": m.subject, "reply_to": m.reply_to or None},
        "attachments_metadata": [{"fileName": a.file_name, "fileSize": a.file_size, "hash": a.hash}
                                 for a in m.attachments] if m.has_attachments else None,
        "status": m.status,
        "error_code": m.error_code or None,
        "error_sub_type": m.error_sub_type or None,
        "created_at": when("created_at"),
        "updated_at": when("updated_at"),
        "accepted_at": when("accepted_at"),
        "sent_at": when("sent_at"),
        "delivered_at": when("delivered_at"),
        "opened_at": when("opened_at"),
        "classification": m.classification or None,
        "tag": m.tag or None,
        "cc": list(m.cc),
        "bcc": list(m.bcc),
    }


@blueprint.post("/send")
def send() -> ResponseReturnValue:
    caller = current_caller()
    if request.mimetype == "multipart/form-data":
        sending = _from_multipart()
    else:
        sending = _from_json(json_body(MAX_JSON_BYTES))
    sending.user_id = caller.user_id
    sending.simulated = caller.test
    if not sending.reply_to:
        sending.reply_to = caller.email
    limiting.check_send_limit(caller.user_id, caller.rate_limit)
    sent = client.call(backends().transactional_email.SendTransactionalEmail, sending,
                       timeout=SEND_TIMEOUT_SECONDS)
    return jsonify(email_message(sent)), 201


@blueprint.get("")
def list_messages() -> ResponseReturnValue:
    query = transactional_query.list_query(STATUSES)
    window = senders_pb2.TimeRange()
    for bound, value in query.created_at.items():
        getattr(window, bound).FromDatetime(value)
    found = client.call(backends().transactional_email.ListTransactionalEmails, pb.ListTransactionalEmailsRequest(
        user_id=current_caller().user_id, limit=query.limit, offset=query.offset, status=query.statuses,
        created_at=window, sort_by=query.sort_by, tag=request.args.get("tag", "")))
    return jsonify(has_more=found.has_more, data=[email_message(m) for m in found.messages])


@blueprint.get("/<email_id>")
def get_message(email_id: str) -> ResponseReturnValue:
    found = client.call(backends().transactional_email.GetTransactionalEmail, pb.GetTransactionalEmailRequest(
        user_id=current_caller().user_id, id=positive_id(email_id, "emailId")))
    return jsonify(email_message(found))


# --- JSON ------------------------------------------------------------------------------------------------------------

def _from_json(body: dict[str, Any]) -> pb.SendTransactionalEmailRequest:
    if body.get("attachments") not in (None, []):
        raise api_validation("attachments", "cannot be sent as JSON: send the email as multipart/form-data, with "
                                            "one 'attachments' part per file")
    text = {name: _optional_text(body, name) for name in TEXT_FIELDS}
    for name in ("subject", "body", "recipient"):
        text[name] = required_string(body, name)
    return pb.SendTransactionalEmailRequest(
        subject=text["subject"], body=text["body"], recipient=text["recipient"], from_address=text["from"],
        reply_to=text["reply_to"], tag=text["tag"], classification=text["classification"],
        cc=_address_list(body.get("cc"), "cc"), bcc=_address_list(body.get("bcc"), "bcc"),
        disable_tracking=_flag(body.get("disable_tracking"), "disable_tracking"))


def _optional_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise api_validation(name, "must be a string")
    return value


def _address_list(value: Any, name: str) -> list[str]:
    """An array of addresses (a lone string is one address; null or absent, none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise api_validation(name, "must be an array of email addresses")
    return [item for item in value if item.strip()]


def _flag(value: Any, name: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise api_validation(name, "must be true or false")


# --- multipart -------------------------------------------------------------------------------------------------------

def _too_large(size: int | None = None) -> ServiceError:
    said = f"The request is {size:,} bytes; " if size else ""
    return ServiceError(ErrorCode.ATTACHMENT_LIMIT, f"{said}attachments may be at most {MAX_ATTACHMENT_BYTES:,} bytes "
                                                    "(10 MB) together")


def _from_multipart() -> pb.SendTransactionalEmailRequest:
    if (request.content_length or 0) > MAX_MULTIPART_BYTES:
        raise _too_large(request.content_length)  # refused before any of it is read
    request.max_content_length = MAX_MULTIPART_BYTES  # a chunked request without a length stops there too
    request.max_form_memory_size = MAX_FIELD_BYTES
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        raise _too_large() from None
    if form.getlist("attachments"):
        raise api_validation("attachments", "must be files (parts with a filename), one part per file")
    text = {name: form.get(name, "") for name in TEXT_FIELDS}
    for name in ("subject", "body", "recipient"):
        if not text[name].strip():
            raise api_validation(name, "is required")
    attachments = _attachments(files.getlist("attachments") + files.getlist("attachments[]"))
    return pb.SendTransactionalEmailRequest(
        subject=text["subject"], body=text["body"], recipient=text["recipient"], from_address=text["from"],
        reply_to=text["reply_to"], tag=text["tag"], classification=text["classification"],
        cc=_form_addresses(form.getlist("cc") + form.getlist("cc[]"), "cc"),
        bcc=_form_addresses(form.getlist("bcc") + form.getlist("bcc[]"), "bcc"),
        disable_tracking=_flag(form.get("disable_tracking"), "disable_tracking"), attachments=attachments)


def _form_addresses(values: list[str], name: str) -> list[str]:
    """Repeated fields, each one address or a JSON-stringified array of them."""
    addresses: list[str] = []
    for value in values:
        if value.strip().startswith("["):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise api_validation(name, "must be an email address or a JSON array of them") from None
            addresses += _address_list(parsed, name)
        elif value.strip():
            addresses.append(value)
    return addresses


def _attachments(files: list[FileStorage]) -> list[pb.EmailAttachment]:
    attachments: list[pb.EmailAttachment] = []
    total = 0
    for file in files:
        name = _file_name(file.filename or "")
        content = file.stream.read(MAX_ATTACHMENT_BYTES - total + 1)
        total += len(content)
        if total > MAX_ATTACHMENT_BYTES:
            raise _too_large()
        try:
            kind = attachment_types.check(name, content)
        except attachment_types.AttachmentRefused as refused:
            raise ServiceError(ErrorCode.API_VALIDATION, str(refused)) from None
        attachments.append(pb.EmailAttachment(file_name=name, content_type=kind.mime_type, content=content))
    return attachments


def _file_name(raw: str) -> str:
    """The name as the recipient sees it: no folders, no control characters."""
    name = _CONTROL.sub("", _FOLDERS.sub("", raw)).strip()
    if not name:
        raise api_validation("attachments", "each file needs a name (the filename of its part)")
    if len(name) > MAX_FILE_NAME_CHARACTERS:
        raise api_validation("attachments", f'file name "{name[:40]}…" is longer than {MAX_FILE_NAME_CHARACTERS} '
                                            "characters")
    return name
