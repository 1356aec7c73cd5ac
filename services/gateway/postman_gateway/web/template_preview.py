"""The template editor's preview of text that is not saved yet: the renderer checks it (the same ValidateTemplate
that saving runs, so the keys, the SMS segments and any error are exactly what saving would say) and renders it
with each key standing in for its own value (``[name]``), because the recipients' values are not known while
the template is written. The review page, not this, shows the first message exactly as it will arrive.

Nothing is saved: the preview is a question to the renderer, which keeps no state, so typing in the editor never
changes the campaign.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postman.v1 import renderer_pb2
from postman_gateway.backends import backends
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

PREVIEW_TIMEOUT_SECONDS = 5.0  # the editor asks again on the next keystroke; a slow answer is no use


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

    @property
    def columns(self) -> list[str]:
        """The columns a recipient file needs for this template: ``recipient`` first, then every other key."""
        return ["recipient", *[key for key in self.params if key != "recipient"]]


def error_field(message: str) -> str:
    """The email form field an ``invalid_template`` message is about (the renderer starts it with the part)."""
    return "subject" if message.lower().startswith("subject") else "body"


def preview(channel: str, subject: str, body: str) -> TemplatePreview:
    """The template checked and rendered with stand-in values; a template the renderer refuses comes back with
    ``error`` set rather than raised (the editor shows it beside the field). Other failures are raised."""
    renderer = backends().renderer
    if renderer is None:  # pragma: no cover - every app made by create_app has one
        raise ServiceError("service_unavailable", "The template preview is not available")
    if not body.strip():
        return TemplatePreview(channel, error="Write the message first", error_field="body")
    try:
        checked = client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
            channel=channel, subject=subject, body=body), timeout=PREVIEW_TIMEOUT_SECONDS)
        rendered = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
            channel=channel, subject=checked.subject, body=checked.body,
            params={key: f"[{key}]" for key in checked.params}), timeout=PREVIEW_TIMEOUT_SECONDS)
    except ServiceError as exc:
        if exc.code != "invalid_template":
            raise
        return TemplatePreview(channel, error=exc.message,
                               error_field=error_field(exc.message) if channel == "EMAIL" else "body")
    return TemplatePreview(channel, params=list(checked.params), subject=rendered.subject, body=rendered.body,
                           segments=checked.segments, encoding=checked.encoding)
