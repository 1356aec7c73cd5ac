"""RendererService over real gRPC: validation results, error codes that reach the caller, previews."""

from __future__ import annotations

import pytest

from postman.v1 import renderer_pb2, renderer_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from tests.support import service_identity
from tests.support.agencies import officer_of_new_agency
from tests.support.inprocess import running


@pytest.fixture
def renderer(settings):
    with running(settings, "renderer"):
        yield service_identity.stub(settings.renderer_addr, renderer_pb2_grpc.RendererServiceStub)


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


def test_an_email_preview_without_a_user_is_in_the_default_agency_look_without_asking_auth(renderer, settings):
    response = client.call(renderer.RenderPreview, renderer_pb2.RenderPreviewRequest(
        channel="EMAIL", subject="s", body="<p>Dear {{ name }}</p>", params={"name": "Ann"}))
    assert (response.agency_name, response.agency_logo_uri, response.show_masthead) == (
        settings.default_agency_name, "", False)
    assert "<p>Dear Ann</p>" in response.themed_body and response.text.startswith("Dear Ann\n")


@pytest.fixture
def themed(settings):
    with running(settings, "auth", "renderer"):
        yield service_identity.stub(settings.renderer_addr, renderer_pb2_grpc.RendererServiceStub)


def test_an_email_preview_is_the_whole_email_in_the_theme_of_the_users_agency(themed, database):
    officer = officer_of_new_agency(database, name="Ministry of <Previews> & Co")
    request = renderer_pb2.RenderPreviewRequest(
        channel="EMAIL", subject="For {{ name }}", body='<p>{{ name }}: see {{ form_link }}</p>',
        params={"name": "Ann", "form_link": "https://form.gov.sg/abc?x=1&y=2"}, user_id=officer.user_id)

    response = client.call(themed.RenderPreview, request)

    assert response.body == ('<p>Ann: see <a href="https://form.gov.sg/abc?x=1&amp;y=2">'
                             'https://form.gov.sg/abc?x=1&amp;y=2</a></p>')
    assert (response.agency_name, response.agency_logo_uri, response.show_masthead) == (
        officer.agency, officer.logo_uri, True)
    assert response.body in response.themed_body
    assert f'<img src="{officer.logo_uri}"' in response.themed_body
    assert "Ministry of &lt;Previews&gt; &amp; Co" in response.themed_body and "<Previews>" not in response.themed_body
    assert 'unsubscribe</a>' in response.themed_body and '<a href="#"' in response.themed_body  # a stand-in link
    assert "Ann: see https://form.gov.sg/abc?x=1&y=2\n" in response.text
    assert "Ministry of <Previews> & Co" in response.text

    request.show_logo = False
    without = client.call(themed.RenderPreview, request)
    assert "<img" not in without.themed_body and without.agency_logo_uri == "" and without.agency_name == officer.agency


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
