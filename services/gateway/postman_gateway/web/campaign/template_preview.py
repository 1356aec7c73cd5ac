"""The template editor's preview of text that is not saved yet: the renderer checks it (the same ValidateTemplate
that saving runs, so the keys, the SMS segments and any error are exactly what saving would say) and renders it
with each key standing in for its own value (``[name]``), because the recipients' values are not known while
the template is written. The review page, not this, shows the first message exactly as it will arrive.

Nothing is saved: the preview is a question to the renderer, which keeps no state, so typing in the editor never
changes the campaign.

An email is shown as it arrives, in the theme of the officer's agency, in a sandboxed frame (its inline styles may
not be in a page: see ``security.email_frame``). The frame's address carries the unsaved subject, body and
``show_logo`` themselves (``frame_token``: compressed, base64url), so its document, ``email_frame``, is the
same question asked again; a frame of a token that does not read is an error message, and of another officer's
campaign a 404.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field

from postman.v1 import renderer_pb2
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.request_context import current
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

PREVIEW_TIMEOUT_SECONDS = 5.0  # the editor asks again on the next keystroke; a slow answer is no use
MAX_TOKEN_TEXT = 128 * 1024  # a template as large as the editor's form can post, with room to spare


@dataclass(frozen=True)
class TemplatePreview:
    channel: str
    params: list[str] = field(default_factory=list)  # the keys the template uses, lower-cased, first-seen order
    subject: str = ""  # email only, rendered
    body: str = ""  # rendered: sanitised HTML (email), Telegram HTML, or plain text (SMS)
    segments: int = 0  # SMS only: parts the template takes as written, before values are put in
    encoding: str = ""  # SMS only: GSM-7 or UCS-2
    error: str = ""  # the renderer's complaint (it names the line and column)
    error_field: str = ""  # the form field the complaint is about: "subject" or "body"
    themed_body: str = ""  # email only: the whole email, in the theme of the officer's agency
    frame_token: str = ""  # email only: what the frame of ``themed_body`` is asked for with (``read_frame_token``)

    @property
    def columns(self) -> list[str]:
        """The columns a recipient file needs for this template: ``recipient`` first, then every other key."""
        return ["recipient", *[key for key in self.params if key != "recipient"]]


def error_field(message: str) -> str:
    """The email form field an ``invalid_template`` message is about (the renderer starts it with the part)."""
    return "subject" if message.lower().startswith("subject") else "body"


def frame_token(subject: str, body: str, show_logo: bool) -> str:
    """The unsaved template, as the frame of its preview asks for it."""
    packed = json.dumps([subject, body, show_logo], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(packed, 6)).decode("ascii").rstrip("=")


def read_frame_token(token: str) -> tuple[str, str, bool] | None:
    """(subject, body, show_logo) of a ``frame_token``, or None when it does not read (or would unpack too large)."""
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, MAX_TOKEN_TEXT)
        if inflater.unconsumed_tail or not inflater.eof:
            return None
        subject, body, show_logo = json.loads(data)
    except (binascii.Error, zlib.error, ValueError, TypeError):
        return None
    if not (isinstance(subject, str) and isinstance(body, str) and isinstance(show_logo, bool)):
        return None
    return subject, body, show_logo


def preview(channel: str, subject: str, body: str, show_logo: bool = True) -> TemplatePreview:
    """The template checked and rendered with stand-in values; a template the renderer refuses comes back with
    ``error`` set rather than raised (the editor shows it beside the field). Other failures are raised."""
    renderer = backends().renderer
    if renderer is None:  # pragma: no cover - every app made by create_app has one
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "The template preview is not available")
    if not body.strip():
        return TemplatePreview(channel, error="Write the message first", error_field="body")
    try:
        checked = client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
            channel=channel, subject=subject, body=body), timeout=PREVIEW_TIMEOUT_SECONDS)
        rendered = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
            channel=channel, subject=checked.subject, body=checked.body,
            params={key: f"[{key}]" for key in checked.params}, user_id=current().user_id, show_logo=show_logo),
            timeout=PREVIEW_TIMEOUT_SECONDS)
    except ServiceError as exc:
        if exc.code != ErrorCode.INVALID_TEMPLATE:
            raise
        return TemplatePreview(channel, error=exc.message,
                               error_field=error_field(exc.message) if channel == "EMAIL" else "body")
    return TemplatePreview(channel, params=list(checked.params), subject=rendered.subject, body=rendered.body,
                           segments=checked.segments, encoding=checked.encoding, themed_body=rendered.themed_body,
                           frame_token=frame_token(subject, body, show_logo) if channel == "EMAIL" else "")
