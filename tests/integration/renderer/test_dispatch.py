"""Rendering send jobs end to end: real campaign and renderer services, real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from html import escape

import pytest
from sqlalchemy import select

from postman_campaign.models import Campaign, Credential, EmailTemplate, Job, Recipient, SmsTemplate, TelegramTemplate
from postman_renderer.models import RenderProgress
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.batches import COUNT_HEADER, unbatched
from postman_shared.broker.topology import (
    CAMPAIGN_SEND,
    DEAD_LETTER_QUEUE,
    DELIVERY_EVENTS,
    EMAIL_SEND,
    SMS_SEND,
    TELEGRAM_SEND,
)
from postman_shared.messages import RenderedSms, RenderedTelegram, SendJob, rendered_message_id
from tests.support.agencies import officer_of_new_agency
from tests.support.inprocess import running

DEADLINE = 30.0
ROWS = [  # (recipient, name, valid)
    ("ann@agency.gov.sg", "Ann <b>bold</b>", True),
    ("bad-address", "Nobody", False),
    ("bob@agency.gov.sg", 'Bob "{{ code }}"', True),
    ("cat@agency.gov.sg", "Cat & co", True),
    ("dan@agency.gov.sg", "Dan", True),
    ("eve@agency.gov.sg", "Eve\r\nBcc: x@y.sg", True),
]


@pytest.fixture
def services(settings):
    with running(replace(settings, render_batch_size=2), "auth", "campaign", "renderer") as runtimes:
        yield runtimes


@pytest.fixture
def publisher(stores):
    publisher = Publisher(stores.amqp_url, app_id="test")
    yield publisher
    publisher.close()


def create_campaign(database, status="ENQUEUED", user_id=1, show_logo=True) -> tuple[int, int, list[int]]:
    """A campaign with a template, the ROWS as recipients and one job; returns (campaign, job, recipient ids)."""
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=user_id, name="Dispatch test", type="EMAIL", csv_filename="list.csv",
                            recipient_keys=["recipient", "name"], num_recipients=len(ROWS), num_invalid=1)
        session.add(campaign)
        session.flush()
        session.add(EmailTemplate(campaign_id=campaign.id, subject="Hello {{ Name }}",
                                  body="<p>Dear {{ name }}, write to {{ recipient }}{{ code }}</p>",
                                  reply_to="help@agency.gov.sg", from_address="Agency <no-reply@agency.gov.sg>",
                                  params=["name", "recipient", "code"], show_logo=show_logo))
        recipients = [Recipient(campaign_id=campaign.id, line=line, recipient=address, valid=valid,
                                params={"recipient": address, "name": name})
                      for line, (address, name, valid) in enumerate(ROWS, start=2)]
        session.add_all(recipients)
        job = Job(campaign_id=campaign.id, status=status)
        session.add(job)
        session.flush()
        return campaign.id, job.id, [r.id for r in recipients if r.valid]


def send(publisher, campaign_id: int, job_id: int) -> None:
    job = SendJob(job_id=job_id, campaign_id=campaign_id, user_id=1)
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, job.to_dict(), job.message_id)])


def receive(channel, queue: str, count: int) -> list[tuple[str, bytes]]:
    """Waits for ``count`` messages on ``queue`` and takes them: (message id, body) pairs, a rendered batch's
    messages each with the id a single message of it would have."""
    taken: list[tuple[str, bytes]] = []
    deadline = time.monotonic() + DEADLINE
    while len(taken) < count and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict) or decoded.get("kind") != "batch":
            taken.append((properties.message_id, body))
            continue
        assert properties.headers[COUNT_HEADER] == len(decoded["messages"])
        taken.extend((rendered_message_id(m["recipient_id"], m["job_id"], m["retry"]), json.dumps(m).encode())
                     for m in unbatched(decoded))
    assert len(taken) == count, f"{queue}: got {len(taken)} of {count} messages"
    return taken


def take(channel, queue: str, count: int) -> list[dict]:
    """Waits for ``count`` JSON messages on ``queue``; each is returned with its message id."""
    return [{"message_id": message_id, **json.loads(body)} for message_id, body in receive(channel, queue, count)]


def queue_is_empty(channel, queue: str) -> bool:
    return channel.queue_declare(queue, passive=True).method.message_count == 0


def job_status(database, job_id: int) -> str:
    with database.session() as session:
        return session.scalars(select(Job.status).where(Job.id == job_id)).one()


def wait_for_status(database, job_id: int, status: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while job_status(database, job_id) != status and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job_status(database, job_id) == status


def test_a_send_job_renders_one_email_per_valid_recipient_with_their_own_values(services, database, publisher,
                                                                                  amqp_channel):
    officer = officer_of_new_agency(database, name='<Health & Co "Agency">')
    campaign_id, job_id, valid_ids = create_campaign(database, user_id=officer.user_id)
    send(publisher, campaign_id, job_id)

    emails = take(amqp_channel, EMAIL_SEND, len(valid_ids))
    [rendered] = take(amqp_channel, DELIVERY_EVENTS, 1)
    wait_for_status(database, job_id, "SENT")

    assert [e["recipient_id"] for e in emails] == valid_ids
    assert [e["message_id"] for e in emails] == [str(i) for i in valid_ids]
    by_address = {e["to"]: e for e in emails}
    assert set(by_address) == {r[0] for r in ROWS if r[2]}
    ann = by_address["ann@agency.gov.sg"]
    assert ann["subject"] == "Hello Ann <b>bold</b>"
    body, footer = ann["body"].split("<p>Dear Ann &lt;b&gt;bold&lt;/b&gt;, write to ann@agency.gov.sg</p>")
    assert escape(officer.agency) in footer and officer.agency not in ann["body"]  # the agency, escaped
    assert f'<img src="{officer.logo_uri}" alt="{escape(officer.agency)}"' in body  # its logo, above the message
    assert "An email from a Singapore Government agency" in body  # the masthead: the owner's address is .gov.sg
    assert ann["unsubscribe_url"].startswith(f"http://localhost:8080/unsubscribe/{campaign_id}/ann@agency.gov.sg?v=")
    assert f'<a href="{escape(ann["unsubscribe_url"])}" style' in footer
    assert ann["text"].startswith("An email from a Singapore Government agency\n\nDear Ann <b>bold</b>, write to "
                                  "ann@agency.gov.sg\n\n" + officer.agency + "\n")
    assert ann["text"].endswith(f"unsubscribe ({ann['unsubscribe_url']}).\n")
    assert ann["sender"] == "Agency <no-reply@agency.gov.sg>" and ann["reply_to"] == "help@agency.gov.sg"
    assert (ann["campaign_id"], ann["job_id"], ann["user_id"]) == (campaign_id, job_id, officer.user_id)
    assert "<p>Dear Bob &quot;&#123;&#123; code &#125;&#125;&quot;, write to bob@agency.gov.sg</p>" in by_address[
        "bob@agency.gov.sg"]["body"]
    assert "<p>Dear Cat &amp; co, write to cat@agency.gov.sg</p>" in by_address["cat@agency.gov.sg"]["body"]
    assert len({e["unsubscribe_url"] for e in emails}) == len(emails)  # each recipient's own link
    assert by_address["eve@agency.gov.sg"]["subject"] == "Hello Eve  Bcc: x@y.sg"
    assert rendered == {"message_id": f"rendered-{job_id}", "kind": "job_rendered", "job_id": job_id,
                        "campaign_id": campaign_id, "total": len(valid_ids)}
    with database.session() as session:
        progress = session.get(RenderProgress, job_id)
        assert (progress.last_recipient_id, progress.published) == (valid_ids[-1], len(valid_ids))
        assert progress.finished_at is not None


def test_a_redelivered_send_job_of_a_finished_job_publishes_nothing(services, database, publisher, amqp_channel):
    campaign_id, job_id, _ = create_campaign(database, status="SENT")
    other_campaign, other_job, other_ids = create_campaign(database)
    send(publisher, campaign_id, job_id)
    send(publisher, other_campaign, other_job)  # jobs are handled in order: once this one is done, so is the first

    emails = take(amqp_channel, EMAIL_SEND, len(other_ids))
    [rendered] = take(amqp_channel, DELIVERY_EVENTS, 1)

    assert {e["job_id"] for e in emails} == {other_job}
    assert rendered["job_id"] == other_job
    wait_for_status(database, other_job, "SENT")
    assert queue_is_empty(amqp_channel, EMAIL_SEND) and queue_is_empty(amqp_channel, DELIVERY_EVENTS)
    assert job_status(database, job_id) == "SENT"


def test_rendering_resumes_after_the_last_confirmed_recipient(services, database, publisher, amqp_channel):
    campaign_id, job_id, valid_ids = create_campaign(database, status="SENDING")
    with database.unit_of_work() as session:
        session.add(RenderProgress(job_id=job_id, campaign_id=campaign_id, last_recipient_id=valid_ids[1],
                                   published=2))
    send(publisher, campaign_id, job_id)

    emails = take(amqp_channel, EMAIL_SEND, len(valid_ids) - 2)
    [rendered] = take(amqp_channel, DELIVERY_EVENTS, 1)
    wait_for_status(database, job_id, "SENT")

    assert [e["recipient_id"] for e in emails] == valid_ids[2:]
    assert rendered["total"] == len(valid_ids)
    assert queue_is_empty(amqp_channel, EMAIL_SEND)


def test_malformed_and_unknown_send_jobs_are_dead_lettered(services, database, publisher, amqp_channel):
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, b"not json", "job-garbage"),
                       OutgoingMessage(CAMPAIGN_SEND, {"job_id": 987654321, "campaign_id": 1, "user_id": 1},
                                       "job-987654321")])

    dead = receive(amqp_channel, DEAD_LETTER_QUEUE, 2)

    ids = {message_id for message_id, _body in dead}
    assert ids == {"job-garbage", "job-987654321"}
    assert queue_is_empty(amqp_channel, EMAIL_SEND)


def create_text_campaign(database, channel: str, body: str, send_rate: int | None,
                         with_credential: bool = True) -> tuple[int, int, list[int]]:
    """An SMS or Telegram campaign of phone numbers with a credential and one job; (campaign, job, valid ids)."""
    rows = [("+6591234567", "Ann <b>", True), ("12", "Bad", False), ("+6581234567", "Bob & co", True)]
    with database.unit_of_work() as session:
        credential = Credential(user_id=7, channel=channel, sealed=b"sealed", key_id="k")
        session.add(credential)
        session.flush()
        campaign = Campaign(user_id=7, name="Text dispatch", type=channel, csv_filename="list.csv",
                            recipient_keys=["recipient", "name"], num_recipients=3, num_invalid=1,
                            credential_id=credential.id if with_credential else None)
        session.add(campaign)
        session.flush()
        model = SmsTemplate if channel == "SMS" else TelegramTemplate
        session.add(model(campaign_id=campaign.id, body=body, params=["name"]))
        recipients = [Recipient(campaign_id=campaign.id, line=line, recipient=number, valid=valid,
                                params={"recipient": number, "name": name})
                      for line, (number, name, valid) in enumerate(rows, start=2)]
        session.add_all(recipients)
        job = Job(campaign_id=campaign.id, status="ENQUEUED", send_rate=send_rate)
        session.add(job)
        session.flush()
        return campaign.id, job.id, [r.id for r in recipients if r.valid]


def test_an_sms_job_renders_one_rendered_sms_per_valid_number_with_the_credential_and_rate(
        services, database, publisher, amqp_channel):
    campaign_id, job_id, valid_ids = create_text_campaign(database, "SMS", "Dear {{ name }},\nbye", send_rate=25)
    send(publisher, campaign_id, job_id)

    messages = [RenderedSms.from_dict({k: v for k, v in m.items() if k != "message_id"})
                for m in take(amqp_channel, SMS_SEND, len(valid_ids))]
    [rendered] = take(amqp_channel, DELIVERY_EVENTS, 1)
    wait_for_status(database, job_id, "SENT")

    assert [m.recipient_id for m in messages] == valid_ids and rendered["total"] == 2
    assert [(m.to, m.body) for m in messages] == [("+6591234567", "Dear Ann <b>,\nbye"),
                                                  ("+6581234567", "Dear Bob & co,\nbye")]
    assert {(m.user_id, m.rate, m.campaign_id, m.job_id) for m in messages} == {(7, 25, campaign_id, job_id)}
    assert queue_is_empty(amqp_channel, EMAIL_SEND) and queue_is_empty(amqp_channel, TELEGRAM_SEND)


def test_a_telegram_job_renders_html_with_escaped_values_on_the_telegram_queue(services, database, publisher,
                                                                                amqp_channel):
    campaign_id, job_id, valid_ids = create_text_campaign(database, "TELEGRAM", "<b>Dear</b> {{ name }}",
                                                          send_rate=None)
    send(publisher, campaign_id, job_id)

    messages = [RenderedTelegram.from_dict({k: v for k, v in m.items() if k != "message_id"})
                for m in take(amqp_channel, TELEGRAM_SEND, len(valid_ids))]
    wait_for_status(database, job_id, "SENT")

    assert [m.body for m in messages] == ["<b>Dear</b> Ann &lt;b&gt;", "<b>Dear</b> Bob &amp; co"]
    assert all(m.rate is None and m.credential_id > 0 for m in messages)
    assert queue_is_empty(amqp_channel, SMS_SEND)


def test_a_text_job_whose_campaign_lost_its_credential_is_dead_lettered_unsent(services, database, publisher,
                                                                              amqp_channel):
    campaign_id, job_id, _ = create_text_campaign(database, "SMS", "Hi {{ name }}", send_rate=None,
                                                  with_credential=False)
    send(publisher, campaign_id, job_id)

    [dead] = receive(amqp_channel, DEAD_LETTER_QUEUE, 1)
    assert dead[0] == f"job-{job_id}"
    assert queue_is_empty(amqp_channel, SMS_SEND) and job_status(database, job_id) == "ENQUEUED"


def test_a_template_without_the_logo_and_an_owner_of_no_agency_get_the_default_look(services, database, publisher,
                                                                                     amqp_channel, settings):
    campaign_id, job_id, valid_ids = create_campaign(database, user_id=987654321, show_logo=False)
    send(publisher, campaign_id, job_id)

    emails = take(amqp_channel, EMAIL_SEND, len(valid_ids))
    take(amqp_channel, DELIVERY_EVENTS, 1)

    body = emails[0]["body"]
    assert "<img" not in body and "Singapore Government agency" not in body  # no logo, and no masthead: unknown owner
    assert f">{escape(settings.default_agency_name)}</p>" in body


def test_an_owner_whose_agency_has_a_logo_does_not_show_it_when_the_template_says_not_to(services, database,
                                                                                        publisher, amqp_channel):
    officer = officer_of_new_agency(database)
    campaign_id, job_id, valid_ids = create_campaign(database, user_id=officer.user_id, show_logo=False)
    send(publisher, campaign_id, job_id)

    emails = take(amqp_channel, EMAIL_SEND, len(valid_ids))
    take(amqp_channel, DELIVERY_EVENTS, 1)

    assert all("<img" not in e["body"] and officer.agency in e["body"] and officer.agency in e["text"]
               for e in emails)
