"""RendererService over real gRPC: validation results, error codes that reach the caller, previews."""

from __future__ import annotations

import pytest

from postman.v1 import renderer_pb2, renderer_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from tests.support.inprocess import running


@pytest.fixture
def renderer(settings):
    with running(settings, "renderer"):
        yield client.stub(settings.renderer_addr, renderer_pb2_grpc.RendererServiceStub)


def test_validate_template_returns_the_sanitised_body_and_params(renderer):
    response = client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
        channel="EMAIL", subject="Hi {{ Name }}", body='<p onclick="x">{{ code }} <a href="{{link}}">go</a></p>'))
    assert response.subject == "Hi {{ Name }}"
    assert response.body == '<p>{{ code }} <a href="{{link}}" rel="noopener noreferrer">go</a></p>'
    assert list(response.params) == ["name", "code", "link"]


def test_a_malformed_tag_is_invalid_template_with_a_message_pointing_at_it(renderer):
    with pytest.raises(ServiceError) as raised:
        client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
            channel="EMAIL", subject="Hi", body="<p>Dear {{ first name }}</p>"))
    assert raised.value.code == "invalid_template"
    assert raised.value.message == ('Body: Invalid key "{{ first name }}" at line 1, column 9: keys may contain '
                                    "only letters, digits and underscores")


def test_an_empty_body_is_invalid_template(renderer):
    with pytest.raises(ServiceError) as raised:
        client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
            channel="EMAIL", subject="Hi", body="  "))
    assert (raised.value.code, raised.value.message) == ("invalid_template", "The message body is empty")


def test_render_preview_escapes_values_in_the_body_only(renderer):
    response = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
        channel="EMAIL", subject="For {{ name }}", body="<p>{{ NAME }}</p>", params={"Name": "<Ann>"}))
    assert (response.subject, response.body) == ("For <Ann>", "<p>&lt;Ann&gt;</p>")


def test_other_channels_are_refused(renderer):
    with pytest.raises(ServiceError) as raised:
        client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
            channel="WHATSAPP", subject="", body="x"))
    assert raised.value.code == "invalid_parameters" and "WHATSAPP" in raised.value.message


def test_a_telegram_template_keeps_only_telegram_tags_and_its_preview_escapes_values(renderer):
    validated = client.call(renderer.ValidateTemplate, renderer_pb2.ValidateTemplateRequest(
        channel="TELEGRAM", body="<h1>Hi</h1><p><b>{{ Name }}</b>, see <a href='https://x.gov.sg'>this</a></p>"))
    assert validated.body == 'Hi<b>{{ Name }}</b>, see <a href="https://x.gov.sg">this</a>'
    assert list(validated.params) == ["name"]
    preview = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
        channel="TELEGRAM", body=validated.body, params={"name": "<Ann & Bob>"}))
    assert "<b>&lt;Ann &amp; Bob&gt;</b>" in preview.body
