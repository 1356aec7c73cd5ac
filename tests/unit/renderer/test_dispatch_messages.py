"""The messages a job's rendering publishes have the shape the sender reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from postman_renderer.dispatch import JobEnvelope, TextEnvelope
from postman_renderer.email_template import EmailMessageTemplate
from postman_renderer.sms_template import SmsMessageTemplate
from postman_renderer.telegram_template import TelegramMessageTemplate, validate_telegram_template
from postman_renderer.template import TemplateError
from postman_renderer.theme import NO_LINK, EmailLook, ThemedEmail
from postman_shared.broker.topology import EMAIL_SEND, SMS_SEND, TELEGRAM_SEND
from postman_shared.messages import RenderedEmail, RenderedSms, RenderedTelegram


@dataclass
class _Recipient:
    id: int
    recipient: str
    params: dict[str, str] = field(default_factory=dict)


def themed(subject: str, body: str) -> ThemedEmail:
    return ThemedEmail(EmailMessageTemplate.parse(subject, body), EmailLook("Agency"), NO_LINK)


def test_a_rendered_email_message_decodes_as_a_rendered_email_with_the_recipient_id_as_message_id():
    email = themed("Hi {{ name }}", "<p>{{ name }} at {{ recipient }}</p>")
    envelope = JobEnvelope(campaign_id=7, job_id=9, email=email, sender="Agency <a@agency.gov.sg>", reply_to=None)

    message = envelope.message(_Recipient(42, "ann@x.sg", {"name": "<Ann>"}))

    assert (message.routing_key, message.message_id) == (EMAIL_SEND, "42")
    rendered = email.render({"name": "<Ann>", "recipient": "ann@x.sg"})
    assert "<p>&lt;Ann&gt; at ann@x.sg</p>" in rendered.html and "<Ann> at ann@x.sg" in rendered.text
    assert RenderedEmail.from_dict(message.body) == RenderedEmail(
        recipient_id=42, campaign_id=7, job_id=9, to="ann@x.sg", sender="Agency <a@agency.gov.sg>", reply_to=None,
        subject="Hi <Ann>", body=rendered.html, text=rendered.text,
    )
    assert message.body == RenderedEmail.from_dict(message.body).to_dict()


def test_a_rendered_email_of_an_older_renderer_without_a_text_part_still_decodes():
    older = {"recipient_id": 1, "campaign_id": 2, "job_id": 3, "to": "a@b.sg", "sender": "s@b.sg", "reply_to": None,
             "subject": "s", "body": "<p>x</p>", "retry": False, "user_id": 4, "unsubscribe_url": None}
    assert RenderedEmail.from_dict(older).text is None


def test_a_recipient_column_in_the_values_wins_over_the_normalised_address():
    envelope = JobEnvelope(campaign_id=1, job_id=1, email=themed("s", "{{ recipient }}"), sender="a@b.sg",
                           reply_to="r@b.sg")
    message = envelope.message(_Recipient(1, "ann@x.sg", {"recipient": "Ann@X.sg"}))
    assert "\nAnn@X.sg\n</td>" in message.body["body"] and message.body["text"].startswith("Ann@X.sg\n")
    assert message.body["reply_to"] == "r@b.sg"


def test_a_rendered_sms_carries_the_owner_credential_and_rate_and_its_values_are_not_escaped():
    template = SmsMessageTemplate.parse("Dear {{ name }},<br>see you at {{ time }}")
    envelope = TextEnvelope(SMS_SEND, campaign_id=7, job_id=9, user_id=3, credential_id=11, rate=25,
                            render=template.render)

    message = envelope.message(_Recipient(42, "+6591234567", {"name": "Ann & <Bob>", "time": "9am"}))

    assert (message.routing_key, message.message_id) == (SMS_SEND, "42")
    assert RenderedSms.from_dict(message.body) == RenderedSms(
        recipient_id=42, campaign_id=7, job_id=9, user_id=3, to="+6591234567",
        body="Dear Ann & <Bob>,\nsee you at 9am", credential_id=11, rate=25)


def test_a_rendered_telegram_message_escapes_values_and_keeps_only_telegram_tags():
    validated = validate_telegram_template('<p>Hi <b>{{ name }}</b></p><a href="{{ link }}">open</a><div>x</div>')
    assert "<p>" not in validated.body and "<div>" not in validated.body and "<b>{{ name }}</b>" in validated.body
    envelope = TextEnvelope(TELEGRAM_SEND, campaign_id=1, job_id=2, user_id=3, credential_id=4, rate=None,
                            render=TelegramMessageTemplate.parse(validated.body).render)

    message = envelope.message(_Recipient(5, "+6591234567", {"name": "<i>Ann</i>", "link": "javascript:alert(1)"}))

    decoded = RenderedTelegram.from_dict(message.body)
    assert message.routing_key == TELEGRAM_SEND and decoded.rate is None and decoded.credential_id == 4
    assert "<b>&lt;i&gt;Ann&lt;/i&gt;</b>" in decoded.body and "javascript" not in decoded.body


def test_a_telegram_template_longer_than_telegram_allows_is_refused():
    try:
        validate_telegram_template("x" * 4097)
    except TemplateError as exc:
        assert "4,097 characters" in exc.message and "4,096" in exc.message
    else:
        raise AssertionError("a 4,097-character template was accepted")
