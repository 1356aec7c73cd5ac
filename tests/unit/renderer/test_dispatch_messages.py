"""The messages a job's rendering publishes have the shape the sender reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from postman_renderer.dispatch import JobEnvelope
from postman_renderer.email_template import EmailMessageTemplate
from postman_shared.broker.topology import EMAIL_SEND
from postman_shared.messages import RenderedEmail


@dataclass
class _Recipient:
    id: int
    recipient: str
    params: dict[str, str] = field(default_factory=dict)


def test_a_rendered_email_message_decodes_as_a_rendered_email_with_the_recipient_id_as_message_id():
    template = EmailMessageTemplate.parse("Hi {{ name }}", "<p>{{ name }} at {{ recipient }}</p>")
    envelope = JobEnvelope(campaign_id=7, job_id=9, sender="Agency <a@agency.gov.sg>", reply_to=None)

    message = envelope.message(template, _Recipient(42, "ann@x.sg", {"name": "<Ann>"}))

    assert (message.routing_key, message.message_id) == (EMAIL_SEND, "42")
    assert RenderedEmail.from_dict(message.body) == RenderedEmail(
        recipient_id=42, campaign_id=7, job_id=9, to="ann@x.sg", sender="Agency <a@agency.gov.sg>", reply_to=None,
        subject="Hi <Ann>", body="<p>&lt;Ann&gt; at ann@x.sg</p>",
    )
    assert message.body == RenderedEmail.from_dict(message.body).to_dict()


def test_a_recipient_column_in_the_values_wins_over_the_normalised_address():
    template = EmailMessageTemplate.parse("s", "{{ recipient }}")
    envelope = JobEnvelope(campaign_id=1, job_id=1, sender="a@b.sg", reply_to="r@b.sg")
    message = envelope.message(template, _Recipient(1, "ann@x.sg", {"recipient": "Ann@X.sg"}))
    assert message.body["body"] == "Ann@X.sg" and message.body["reply_to"] == "r@b.sg"
