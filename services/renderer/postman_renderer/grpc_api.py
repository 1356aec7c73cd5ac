"""RendererService over gRPC: a thin layer over the email template language."""

from __future__ import annotations

from typing import Any

from postman.v1 import renderer_pb2, renderer_pb2_grpc
from postman_renderer.email_template import EmailMessageTemplate, validate_email_template
from postman_renderer.template import TemplateError
from postman_shared.grpc.errors import ServiceError

SUPPORTED_CHANNELS = ("", "EMAIL")


class RendererServicer(renderer_pb2_grpc.RendererServiceServicer):
    def ValidateTemplate(
        self, request: renderer_pb2.ValidateTemplateRequest, context: Any
    ) -> renderer_pb2.ValidateTemplateResponse:
        _check_channel(request.channel)
        try:
            template = validate_email_template(request.subject, request.body)
        except TemplateError as exc:
            raise ServiceError("invalid_template", exc.message) from None
        return renderer_pb2.ValidateTemplateResponse(
            subject=template.subject, body=template.body, params=template.params
        )

    def RenderPreview(self, request: renderer_pb2.RenderPreviewRequest, context: Any) -> renderer_pb2.RenderedMessage:
        _check_channel(request.channel)
        try:
            template = EmailMessageTemplate.parse(request.subject, request.body)
        except TemplateError as exc:
            raise ServiceError("invalid_template", exc.message) from None
        values = {key.lower(): value for key, value in request.params.items()}
        subject, body = template.render(values)
        return renderer_pb2.RenderedMessage(subject=subject, body=body)


def _check_channel(channel: str) -> None:
    if channel.upper() not in SUPPORTED_CHANNELS:
        raise ServiceError("invalid_parameters", f'Channel "{channel}" is not supported: only EMAIL templates are')
