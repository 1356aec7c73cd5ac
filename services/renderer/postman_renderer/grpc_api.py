"""RendererService over gRPC: a thin layer over the email, SMS and Telegram template languages and the email theme."""

from __future__ import annotations

from typing import Any, Protocol

from postman.v1 import renderer_pb2, renderer_pb2_grpc
from postman_renderer.agency_client import AgencyClient
from postman_renderer.email_template import EmailMessageTemplate, validate_email_template
from postman_renderer.sms import measure
from postman_renderer.sms_template import SmsMessageTemplate, validate_sms_template
from postman_renderer.telegram_template import TelegramMessageTemplate, validate_telegram_template
from postman_renderer.template import TemplateError
from postman_renderer.theme import STAND_IN_LINK, EmailLook, ThemedEmail
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.settings import Settings
from postman_shared.template_limits import TemplateLimits

EMAIL_CHANNELS = ("", "EMAIL")
SMS_CHANNELS = ("SMS",)
TELEGRAM = "TELEGRAM"


class Looks(Protocol):
    def look(self, user_id: int, show_logo: bool) -> EmailLook: ...


class RendererServicer(renderer_pb2_grpc.RendererServiceServicer):
    def __init__(self, settings: Settings | None = None, looks: Looks | None = None) -> None:
        settings = settings or Settings()
        self._sms_max_segments = settings.sms_max_segments
        self._limits = TemplateLimits.of(settings)
        self._looks = looks or AgencyClient(settings.auth_addr, settings.default_agency_name)

    def ValidateTemplate(
        self, request: renderer_pb2.ValidateTemplateRequest, context: Any
    ) -> renderer_pb2.ValidateTemplateResponse:
        self._check_size(request)
        if request.channel.upper() == TELEGRAM:
            try:
                telegram = validate_telegram_template(request.body)
            except TemplateError as exc:
                raise ServiceError(ErrorCode.INVALID_TEMPLATE, exc.message) from None
            return renderer_pb2.ValidateTemplateResponse(body=telegram.body, params=telegram.params)
        if _is_sms(request.channel):
            try:
                sms = validate_sms_template(request.body, self._sms_max_segments)
            except TemplateError as exc:
                raise ServiceError(ErrorCode.INVALID_TEMPLATE, exc.message) from None
            return renderer_pb2.ValidateTemplateResponse(
                body=sms.body, params=sms.params, segments=sms.length.segments, encoding=sms.length.encoding
            )
        try:
            template = validate_email_template(request.subject, request.body)
        except TemplateError as exc:
            raise ServiceError(ErrorCode.INVALID_TEMPLATE, exc.message) from None
        return renderer_pb2.ValidateTemplateResponse(
            subject=template.subject, body=template.body, params=template.params
        )

    def _check_size(self, request: renderer_pb2.ValidateTemplateRequest) -> None:
        """A template larger than its channel allows is refused before any work is spent on it (the editor's
        preview asks on every keystroke); the message starts with the part, as the template language's do."""
        channel = request.channel.upper()
        fields = [("Body", request.body)] if channel in (TELEGRAM, *SMS_CHANNELS) else [
            ("Subject", request.subject), ("Body", request.body)]
        for part, text in fields:
            problem = self._limits.problem(channel, text)
            if problem is not None:
                raise ServiceError(ErrorCode.INVALID_TEMPLATE, f"{part}: the {part.lower()} {problem}")

    def RenderPreview(self, request: renderer_pb2.RenderPreviewRequest, context: Any) -> renderer_pb2.RenderedMessage:
        values = {key.lower(): value for key, value in request.params.items()}
        if request.channel.upper() == TELEGRAM:
            try:
                return renderer_pb2.RenderedMessage(body=TelegramMessageTemplate.parse(request.body).render(values))
            except TemplateError as exc:
                raise ServiceError(ErrorCode.INVALID_TEMPLATE, exc.message) from None
        if _is_sms(request.channel):
            try:
                text = SmsMessageTemplate.parse(request.body).render(values)
            except TemplateError as exc:
                raise ServiceError(ErrorCode.INVALID_TEMPLATE, exc.message) from None
            length = measure(text)
            return renderer_pb2.RenderedMessage(body=text, segments=length.segments, encoding=length.encoding)
        try:
            template = EmailMessageTemplate.parse(request.subject, request.body)
        except TemplateError as exc:
            raise ServiceError(ErrorCode.INVALID_TEMPLATE, exc.message) from None
        # The whole email as it will arrive: in the theme of the user's agency, with a stand-in unsubscribe link.
        show_logo = request.show_logo if request.HasField("show_logo") else True
        look = self._looks.look(request.user_id, show_logo)
        email = ThemedEmail(template, look, STAND_IN_LINK).render(values)
        return renderer_pb2.RenderedMessage(
            subject=email.subject, body=email.body, themed_body=email.html, text=email.text,
            agency_name=look.agency_name, agency_logo_uri=look.logo_uri, show_masthead=look.masthead)


def _is_sms(channel: str) -> bool:
    """Whether ``channel`` is SMS (else it is email); raises for a channel this service has no templates for."""
    channel = channel.upper()
    if channel in SMS_CHANNELS:
        return True
    if channel in EMAIL_CHANNELS:
        return False
    raise ServiceError(ErrorCode.INVALID_PARAMETERS,
                       f'Channel "{channel}" is not supported: only EMAIL, SMS and TELEGRAM templates are')
