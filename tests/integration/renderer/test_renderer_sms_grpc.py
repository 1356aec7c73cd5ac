"""RendererService for SMS over real gRPC: plain-text templates, their segments, and the configured limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from postman.v1 import renderer_pb2, renderer_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from tests.support import service_identity
from tests.support.inprocess import running


@pytest.fixture
def renderer(settings):
    # A low limit, to see that the service's settings (not the default of 10) decide it.
    with running(replace(settings, sms_max_segments=2), "renderer"):
        yield service_identity.stub(settings.renderer_addr, renderer_pb2_grpc.RendererServiceStub)


def validate(renderer, body: str) -> renderer_pb2.ValidateTemplateResponse:
    return client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(channel="SMS", body=body))


def test_validating_an_sms_template_returns_plain_text_params_and_its_segments(renderer):
    response = validate(renderer, "Hi {{ Name }},<br />your code is {{ code }}")

    assert response.body == "Hi {{ Name }},\nyour code is {{ code }}"
    assert list(response.params) == ["name", "code"]
    assert (response.segments, response.encoding) == (1, "GSM-7")
    assert response.subject == ""


def test_an_sms_template_over_the_configured_segments_is_invalid_template(renderer):
    assert validate(renderer, "a" * 306).segments == 2

    with pytest.raises(ServiceError) as raised:
        validate(renderer, "a" * 307)

    assert (raised.value.code, raised.value.message) == (
        "invalid_template", "The message is 3 segments long (GSM-7); at most 2 segments are allowed")


def test_html_in_an_sms_template_is_invalid_template_naming_the_tag(renderer):
    with pytest.raises(ServiceError) as raised:
        validate(renderer, "Hi <b>there</b>")

    assert raised.value.code == "invalid_template"
    assert raised.value.message.startswith('Body: HTML tag "<b>" at line 1, column 4 is not allowed')


def test_an_sms_preview_is_plain_text_with_the_rendered_length(renderer):
    response = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
        channel="SMS", body="Hi {{ name }}<br>", params={"Name": "<Tan> 😀"}))

    assert response.body == "Hi <Tan> 😀\n"
    assert (response.segments, response.encoding) == (1, "UCS-2")
    assert response.subject == ""


def test_email_responses_leave_the_sms_length_fields_empty(renderer):
    validated = client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
        channel="EMAIL", subject="Hi", body="<p>x</p>"))
    preview = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
        channel="EMAIL", subject="Hi", body="<p>x</p>"))

    assert (validated.segments, validated.encoding) == (0, "")
    assert (preview.segments, preview.encoding) == (0, "")
