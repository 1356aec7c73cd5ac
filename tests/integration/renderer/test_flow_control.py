"""Flow control: the renderer keeps at most a window of messages in a channel's queue, renders each job in slices
that take turns, and keeps every guarantee of a whole render (resume, stop, one message per recipient). Real
campaign and renderer services, real PostgreSQL and RabbitMQ; the test plays the sender, taking messages off
``email.send`` when it chooses."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from postman_campaign.models import Campaign, EmailTemplate, Job, Recipient
from postman_renderer.models import RenderProgress
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.batches import unbatched
from postman_shared.broker.topology import CAMPAIGN_SEND, EMAIL_SEND
from postman_shared.messages import SendJob
from tests.support.inprocess import running

WINDOW = 50
PER_MESSAGE = 10  # rendered messages per AMQP message: the queue's depth counts batches
DEADLINE = 60.0


@pytest.fixture
def services(settings):
    with running(replace(settings, render_batch_size=20, render_window=WINDOW,
                                     rendered_per_message=PER_MESSAGE), "auth", "campaign",
                 "renderer") as runtimes:
        yield runtimes


@pytest.fixture
def publisher(stores):
    publisher = Publisher(stores.amqp_url, app_id="test")
    yield publisher
    publisher.close()


def create_campaign(database, size: int) -> tuple[int, int, list[int]]:
    """An email campaign of ``size`` valid recipients and its ENQUEUED job: (campaign, job, recipient ids)."""
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=1, name=f"Flow control {size}", type="EMAIL", csv_filename="list.csv",
                            recipient_keys=["recipient"], num_recipients=size, num_invalid=0)
        session.add(campaign)
        session.flush()
        session.add(EmailTemplate(campaign_id=campaign.id, subject="Hello", body="<p>Dear {{ recipient }}</p>",
                                  from_address="Agency <no-reply@agency.gov.sg>", params=["recipient"]))
        recipients = [Recipient(campaign_id=campaign.id, line=line, recipient=f"r{line}@agency.gov.sg", valid=True,
                                params={"recipient": f"r{line}@agency.gov.sg"}) for line in range(2, size + 2)]
        session.add_all(recipients)
        job = Job(campaign_id=campaign.id, status="ENQUEUED")
        session.add(job)
        session.flush()
        return campaign.id, job.id, [r.id for r in recipients]


def send(publisher, campaign_id: int, job_id: int) -> None:
    job = SendJob(job_id=job_id, campaign_id=campaign_id, user_id=1)
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, job.to_dict(), job.message_id)])


def depth(channel) -> int:
    """AMQP messages on email.send: rendered batches of PER_MESSAGE at most."""
    return channel.queue_declare(EMAIL_SEND, passive=True).method.message_count


def wait_for_depth(channel, count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while depth(channel) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert depth(channel) >= count


def published(database, job_id: int) -> int:
    with database.session() as session:
        return session.scalars(select(RenderProgress.published).where(RenderProgress.job_id == job_id)).one()


def job_status(database, job_id: int) -> str:
    with database.session() as session:
        return session.scalars(select(Job.status).where(Job.id == job_id)).one()


def take_all(channel, count: int) -> list[dict]:
    """Plays the sender: takes ``count`` emails off ``email.send`` as they come, in queue order."""
    taken: list[dict] = []
    deadline = time.monotonic() + DEADLINE
    while len(taken) < count and time.monotonic() < deadline:
        method, _properties, body = channel.basic_get(EMAIL_SEND, auto_ack=True)
        if method is None:
            time.sleep(0.02)
            continue
        taken.extend(unbatched(json.loads(body)))
    assert len(taken) == count, f"got {len(taken)} of {count} emails"
    return taken


def held_at(channel, database, job_id: int, count: int) -> None:
    """The job stays at ``count`` messages in the queue: several waits pass and nothing more is rendered."""
    wait_for_depth(channel, count // PER_MESSAGE)
    time.sleep(2.0)  # four times the renderer's wait: it looked again, and found no room
    assert depth(channel) == count // PER_MESSAGE  # in batches of PER_MESSAGE (render batches of 20 split in two)
    assert published(database, job_id) == count


def test_a_campaign_fills_the_window_waits_for_room_and_finishes_with_one_message_per_recipient(
        services, database, publisher, amqp_channel):
    campaign_id, job_id, ids = create_campaign(database, 500)
    send(publisher, campaign_id, job_id)

    held_at(amqp_channel, database, job_id, WINDOW)  # the whole campaign used to be queued at once
    assert job_status(database, job_id) == "SENDING"

    emails = take_all(amqp_channel, len(ids))  # the sender takes them: room, and the rest follows

    assert sorted(e["recipient_id"] for e in emails) == ids  # each recipient exactly once
    deadline = time.monotonic() + DEADLINE
    while job_status(database, job_id) != "SENT" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job_status(database, job_id) == "SENT"
    assert published(database, job_id) == len(ids) and depth(amqp_channel) == 0


def test_a_small_campaign_started_during_a_big_one_is_not_queued_behind_all_of_it(services, database, publisher,
                                                                                  amqp_channel):
    big_campaign, big_job, big_ids = create_campaign(database, 500)
    small_campaign, small_job, small_ids = create_campaign(database, 5)
    send(publisher, big_campaign, big_job)
    held_at(amqp_channel, database, big_job, WINDOW)
    send(publisher, small_campaign, small_job)

    emails = take_all(amqp_channel, len(big_ids) + len(small_ids))

    positions = [i for i, e in enumerate(emails) if e["campaign_id"] == small_campaign]
    assert sorted(emails[i]["recipient_id"] for i in positions) == small_ids
    # Behind the window already queued and, at worst, a slice or two of the big one: not its 450 others.
    assert max(positions) < 3 * WINDOW, positions
    assert sorted(e["recipient_id"] for e in emails if e["campaign_id"] == big_campaign) == big_ids


def test_a_job_stopped_while_it_waits_for_room_renders_nothing_more(services, database, publisher, amqp_channel):
    campaign_id, job_id, _ids = create_campaign(database, 500)
    send(publisher, campaign_id, job_id)
    held_at(amqp_channel, database, job_id, WINDOW)

    with database.unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="STOPPED"))
    take_all(amqp_channel, WINDOW)  # room again
    time.sleep(2.0)  # the job's turns come and go

    assert depth(amqp_channel) == 0
    assert published(database, job_id) == WINDOW
    assert job_status(database, job_id) == "STOPPED"


def test_a_job_resumed_mid_way_and_delivered_twice_sends_each_remaining_recipient_once(services, database,
                                                                                       publisher, amqp_channel):
    campaign_id, job_id, ids = create_campaign(database, 120)
    with database.unit_of_work() as session:  # a renderer died after confirming the first 30
        session.execute(update(Job).where(Job.id == job_id).values(status="SENDING"))
        session.add(RenderProgress(job_id=job_id, campaign_id=campaign_id, last_recipient_id=ids[29], published=30))
    send(publisher, campaign_id, job_id)  # its redelivery...
    send(publisher, campaign_id, job_id)  # ...and the next slice it had put back in line before it died

    emails = take_all(amqp_channel, len(ids) - 30)
    time.sleep(2.0)  # whatever a second chain of slices would add, it has added by now

    assert sorted(e["recipient_id"] for e in emails) == ids[30:]
    assert depth(amqp_channel) == 0
    assert published(database, job_id) == len(ids)


def test_a_job_another_delivery_is_rendering_is_left_to_it_and_its_lock_ends_with_the_slice(
        services, database, publisher, amqp_channel):
    """Two deliveries of one job (a continuation and a redelivery after a crash) never render at once: the one that
    finds the job's lock taken drops out, and the lock ends with the slice (it is the slice transaction's, so that
    behind PgBouncer in transaction mode it cannot be stranded on a server connection: not reproduced here, where
    there is no PgBouncer)."""
    from sqlalchemy import func, text

    from postman_renderer.dispatch import _LOCK_SPACE

    campaign_id, job_id, _ids = create_campaign(database, 100)
    key = _LOCK_SPACE | job_id
    with database.engine.connect() as other_slice, other_slice.begin():
        assert other_slice.execute(select(func.pg_try_advisory_xact_lock(key))).scalar()
        send(publisher, campaign_id, job_id)
        time.sleep(2.0)
        assert depth(amqp_channel) == 0, "the job was rendered while another delivery held it"
    send(publisher, campaign_id, job_id)  # as the other delivery's continuation would
    wait_for_depth(amqp_channel, WINDOW // PER_MESSAGE)
    time.sleep(1.0)
    with database.engine.connect() as connection:
        advisory = connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key}).scalar_one()
    assert advisory == 0, "the job's lock outlived its slice"
    assert published(database, job_id) == WINDOW
