"""The renderer, as the campaign service needs it: template validation and previews, over gRPC."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from postman.v1 import renderer_pb2, renderer_pb2_grpc
from postman_shared.grpc.client import call, stub


@dataclass(frozen=True)
class ValidatedTemplate:
    subject: str
    body: str  # sanitised HTML
    params: list[str]  # lower-cased keys, in first-seen order
    segments: int = 0  # SMS only: parts the message is sent as
    encoding: str = ""  # SMS only: "GSM-7" or "UCS-2"


@dataclass(frozen=True)
class RenderedPreview:
    subject: str
    body: str
    segments: int = 0  # SMS only
    encoding: str = ""  # SMS only
    # Email only: the whole email in the theme of the user's agency, its plain-text part, and that look.
    themed_body: str = ""
    text: str = ""
    agency_name: str = ""
    agency_logo_uri: str = ""
    show_masthead: bool = False


class Renderer(Protocol):
    def validate_template(self, channel: str, subject: str, body: str) -> ValidatedTemplate:
        """Sanitised template and its keys; raises ServiceError(invalid_template) naming the problem."""
        ...

    def render_preview(self, channel: str, subject: str, body: str, params: Mapping[str, str], user_id: int = 0,
                       show_logo: bool = True) -> RenderedPreview:
        """One message; an email in the theme of ``user_id``'s agency (with its logo if ``show_logo``)."""
        ...


class GrpcRenderer:
    """``RendererService`` at ``address``; the channel is opened on first use, not here."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self._address = address
        self._timeout = timeout

    def _stub(self) -> renderer_pb2_grpc.RendererServiceStub:
        return stub(self._address, renderer_pb2_grpc.RendererServiceStub)

    def validate_template(self, channel: str, subject: str, body: str) -> ValidatedTemplate:
        response = call(
            self._stub().ValidateTemplate,
            renderer_pb2.ValidateTemplateRequest(channel=channel, subject=subject, body=body),
            timeout=self._timeout,
        )
        return ValidatedTemplate(subject=response.subject, body=response.body, params=list(response.params),
                                 segments=response.segments, encoding=response.encoding)

    def render_preview(self, channel: str, subject: str, body: str, params: Mapping[str, str], user_id: int = 0,
                       show_logo: bool = True) -> RenderedPreview:
        response = call(
            self._stub().RenderPreview,
            renderer_pb2.RenderPreviewRequest(channel=channel, subject=subject, body=body, params=dict(params),
                                              user_id=user_id, show_logo=show_logo),
            timeout=self._timeout,
        )
        return RenderedPreview(subject=response.subject, body=response.body, segments=response.segments,
                               encoding=response.encoding, themed_body=response.themed_body, text=response.text,
                               agency_name=response.agency_name, agency_logo_uri=response.agency_logo_uri,
                               show_masthead=response.show_masthead)
