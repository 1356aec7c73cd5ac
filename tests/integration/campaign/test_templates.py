"""Email templates: checked and sanitised by the real renderer, compared with the recipient list's columns."""

from __future__ import annotations

import pytest

from postman_shared.grpc.errors import ServiceError
from tests.integration.campaign.support import CampaignApi
from tests.support.agencies import officer_of_new_agency
from tests.support.inprocess import running


@pytest.fixture
def api(settings):
    with running(settings, "auth", "renderer", "campaign"):
        yield CampaignApi(settings)


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_template_is_sanitised_and_its_keys_extracted(api, settings):
    campaign_id = api.create()
    saved = api.save_template(campaign_id, subject="Hello {{ Name }}",
                              body='<p onclick="steal()">Hi {{ name }}</p><script>alert(1)</script>')
    campaign = api.get(campaign_id)
    assert "script" not in saved.template.body and "onclick" not in saved.template.body
    assert list(saved.template.params) == ["name"]
    assert saved.template.from_address == settings.email_from
    assert not saved.valid and "upload a recipient list" in saved.message
    assert campaign.email_template.body == saved.template.body and list(campaign.email_template.params) == ["name"]


def test_a_template_matching_the_uploaded_columns_makes_the_campaign_valid(api):
    campaign_id = api.create()
    api.upload(campaign_id, "email_basic.csv")
    saved = api.save_template(campaign_id, reply_to="help@agency.gov.sg")
    assert saved.valid and saved.num_recipients == 5 and not saved.extra_keys
    assert saved.template.reply_to == "help@agency.gov.sg"
    assert api.get(campaign_id).valid


def test_template_keys_missing_from_the_recipient_list_are_named(api):
    campaign_id = api.create()
    api.upload(campaign_id, "email_basic.csv")
    saved = api.save_template(campaign_id, body="<p>{{ name }}, bring {{ document }} and {{ ic_number }}</p>")
    assert not saved.valid and list(saved.extra_keys) == ["document", "ic_number"]
    assert "document, ic_number" in saved.message and "email_basic.csv" in saved.message
    assert not api.get(campaign_id).valid


def test_a_file_without_the_template_keys_is_rejected_naming_the_key(api):
    campaign_id = api.create()
    api.save_template(campaign_id, body="<p>{{ name }}: {{ clinic }}</p>")
    status = api.upload(campaign_id, "email_basic.csv")
    assert "clinic" in status.csv_error and "email_basic.csv" in status.csv_error
    assert status.num_recipients == 0 and status.csv_filename == ""


@pytest.mark.parametrize("fields, code, words", [
    ({"subject": "", "body": "<p>x</p>"}, "api_validation", "subject is required"),
    ({"subject": "Hi", "body": "  "}, "api_validation", "body is required"),
    ({"subject": "Hi", "body": "<p>{{ name </p>"}, "invalid_template", "Unclosed tag"),
    ({"subject": "Hi", "body": "<p>x</p>", "from_address": "Postman <not an address>"}, "invalid_from_address",
     "not a valid email address"),
    ({"subject": "Hi", "body": "<p>x</p>", "reply_to": "nobody"}, "invalid_parameters", "reply_to"),
])
def test_a_bad_template_is_refused_with_a_clear_reason(api, fields, code, words):
    campaign_id = api.create()
    error = _error(api.call, "UpdateEmailTemplate", campaign_id=campaign_id, **fields)
    assert error.code == code and words in error.message
    assert not api.get(campaign_id).HasField("email_template")


def test_preview_renders_the_first_valid_recipient(api):
    campaign_id = api.create()
    api.save_template(campaign_id, subject="For {{ name }}", reply_to="help@agency.gov.sg")
    api.upload(campaign_id, "email_basic.csv")
    preview = api.call("PreviewEmail", campaign_id=campaign_id)
    status = api.status(campaign_id)
    assert preview.subject == "For Tan Ah Kow" and "2026-12-01 10:00" in preview.body
    assert preview.reply_to == "help@agency.gov.sg" and getattr(preview, "from")
    assert status.HasField("preview") and status.preview.subject == preview.subject


def test_preview_without_recipients_says_what_is_missing(api):
    campaign_id = api.create()
    no_template = _error(api.call, "PreviewEmail", campaign_id=campaign_id)
    api.save_template(campaign_id)
    no_recipients = _error(api.call, "PreviewEmail", campaign_id=campaign_id)
    assert no_template.code == "invalid_parameters" and "template" in no_template.message
    assert no_recipients.code == "invalid_parameters" and "recipient" in no_recipients.message


def test_show_logo_is_true_unless_the_template_says_otherwise_and_is_kept(api):
    campaign_id = api.create()
    assert api.save_template(campaign_id).template.show_logo is True  # not said: true, as in Postman
    assert api.save_template(campaign_id, show_logo=False).template.show_logo is False
    assert api.get(campaign_id).email_template.show_logo is False
    assert api.save_template(campaign_id, show_logo=True).template.show_logo is True


def test_previews_show_the_email_in_the_theme_of_the_owners_agency(api, database, settings):
    officer = officer_of_new_agency(database, name="Ministry of <Reminders>")
    owner = CampaignApi(settings, user_id=officer.user_id)
    campaign_id = owner.create()
    owner.save_template(campaign_id, subject="For {{ name }}", body="<p>Dear {{ name }}, at {{ appointment }}</p>")
    owner.upload(campaign_id, "email_basic.csv")

    preview = owner.call("PreviewEmail", campaign_id=campaign_id)
    status = owner.status(campaign_id).preview

    for shown in (preview, status):
        assert (shown.agency_name, shown.agency_logo_uri, shown.show_masthead) == (
            officer.agency, officer.logo_uri, True)
        assert shown.body == "<p>Dear Tan Ah Kow, at 2026-12-01 10:00</p>" and shown.body in shown.themed_body
        assert "Ministry of &lt;Reminders&gt;" in shown.themed_body and f'src="{officer.logo_uri}"' in shown.themed_body

    owner.save_template(campaign_id, subject="For {{ name }}", body="<p>Dear {{ name }}</p>", show_logo=False)
    without = owner.call("PreviewEmail", campaign_id=campaign_id)
    assert without.agency_logo_uri == "" and "<img" not in without.themed_body
