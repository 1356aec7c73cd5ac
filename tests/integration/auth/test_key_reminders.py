"""API key reminders against the real database and broker: a key's owner and notification contacts are emailed on
``email.priority`` before the key expires and when it is revoked, each email once, however many auth replicas look
at the same time and however often they restart; never with the key in it."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from postman.v1 import auth_pb2
from postman_auth import api_keys, users
from postman_auth.key_reminders import KeyReminders
from postman_auth.models import ApiKey, ApiKeyNotice
from postman_shared.broker import Publisher
from postman_shared.broker.publisher import PublishError
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.grpc.errors import ServiceError
from postman_shared.messages import PriorityEmail
from tests.integration.auth.conftest import IP, new_address
from tests.support.inprocess import running
from tests.support.stores import free_port

DAYS = (30, 7, 1)


def drain(channel, addresses: set[str], settle: float = 0.5, timeout: float = 15.0,
          expect: int | None = None) -> list[PriorityEmail]:
    """The priority emails to ``addresses`` (others are dropped): read until ``expect`` came (then ``settle`` more
    seconds, to catch a duplicate), or until none came for ``settle`` seconds."""
    found: list[PriorityEmail] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        method, _properties, body = channel.basic_get(EMAIL_PRIORITY, auto_ack=True)
        if method is None:
            enough = expect is None or len(found) >= expect
            if enough and time.monotonic() - quiet_since >= settle:
                break
            time.sleep(0.05)
            continue
        email = PriorityEmail.from_dict(json.loads(body))
        if email.to in addresses:
            found.append(email)
            quiet_since = time.monotonic()
    return found


def make_key(database, contacts: list[str], expires_in: timedelta, label: str = "billing system",
             created_ago: timedelta = timedelta(days=100)) -> tuple[ApiKey, str, str]:
    """A key of a new owner, made ``created_ago`` and expiring in ``expires_in``: (row, owner, key in clear)."""
    owner = new_address()
    now = datetime.now(timezone.utc)
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, owner)
        row, key = api_keys.issue_for_user(session, user.id, label, IP, timedelta(days=180), contacts=contacts)
        row.created_at, row.expires_at = now - created_ago, now + expires_in
        session.flush()
        session.expunge(row)
    return row, owner, key


def notices(database, key_id: int) -> dict[str, tuple[bool, int]]:
    """kind -> (sent, how many addresses were emailed)."""
    with database.session() as session:
        return {n.kind: (n.sent_at is not None, n.emailed) for n in session.scalars(
            select(ApiKeyNotice).where(ApiKeyNotice.api_key_id == key_id))}


@pytest.fixture
def publishers(stores):
    made: list[Publisher] = []

    def make() -> Publisher:
        made.append(Publisher(stores.amqp_url, app_id="auth"))
        return made[-1]

    yield make
    for publisher in made:
        publisher.close()


def loop(database, publisher, days=DAYS) -> KeyReminders:
    return KeyReminders(database, publisher, "Postman <donotreply@postman.test>", "https://postman.test", days, 60)


def test_two_loops_racing_send_each_reminder_once_and_a_restarted_one_sends_none_again(database, amqp_channel,
                                                                                        publishers):
    keys = [make_key(database, [new_address(), new_address()], timedelta(days=6, hours=12)) for _ in range(12)]
    addresses = {a for row, owner, _ in keys for a in (owner, *row.notification_contacts)}
    replicas = [loop(database, publishers()), loop(database, publishers())]
    start = threading.Barrier(len(replicas))

    def look(replica: KeyReminders) -> None:
        for _ in range(5):
            start.wait()  # both look at the same moment, five times over
            replica.tick()

    threads = [threading.Thread(target=look, args=(replica,)) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    sent = drain(amqp_channel, addresses, expect=len(addresses))
    assert Counter(e.message_id for e in sent).most_common(1)[0][1] == 1, "an email went twice"
    assert sorted(e.to for e in sent) == sorted(addresses)
    for row, _, _ in keys:
        assert notices(database, row.id) == {"expiry-7": (True, 3)}  # not a late 30-day one as well
    assert all(key not in e.body and key not in (e.text or "") for _, _, key in keys for e in sent)

    restarted = loop(database, publishers())  # a new process: what went is in the database
    restarted.tick()
    assert drain(amqp_channel, addresses, settle=1.0) == []

    later = datetime.now(timezone.utc) + timedelta(days=6)  # the last day: the 1-day reminder, once
    for replica in (restarted, *replicas):
        replica.tick(later)
    last = drain(amqp_channel, addresses, expect=len(addresses))
    assert len(last) == len(addresses) and len({e.message_id for e in last}) == len(addresses)
    assert all("expires in 12 hours" in e.subject for e in last)


def test_the_reminder_names_the_key_by_label_and_last_five_and_tells_contacts_why(database, amqp_channel,
                                                                                  publishers):
    contact = new_address()
    row, owner, key = make_key(database, [contact.upper(), owner_alias := new_address()], timedelta(days=29),
                               label="Clinic <reminders>")
    loop(database, publishers()).tick()
    emails = {e.to: e for e in drain(amqp_channel, {owner, contact, owner_alias}, expect=3)}
    assert set(emails) == {owner, contact, owner_alias}
    to_contact = emails[contact]
    assert to_contact.subject == "Postman API key “Clinic <reminders>” expires in 29 days"
    assert f"ending …{key[-5:]}" in to_contact.text and "Clinic &lt;reminders&gt;" in to_contact.body
    assert f"{owner}, who owns the key, named you" in to_contact.text
    assert "the key is yours" in emails[owner].text
    assert key not in to_contact.body and key[8:] not in to_contact.text


def test_a_publish_that_fails_leaves_the_reminder_for_the_next_look(database, amqp_channel, publishers):
    row, owner, _ = make_key(database, [], timedelta(days=20))

    class Down:
        def publish(self, messages, timeout=60.0):
            raise PublishError("broker unreachable")

    assert loop(database, Down()).tick() == 0
    assert notices(database, row.id) == {"expiry-30": (False, 0)}  # claimed, not sent: rolled back
    loop(database, publishers()).tick()
    assert [e.to for e in drain(amqp_channel, {owner}, expect=1)] == [owner]
    assert notices(database, row.id) == {"expiry-30": (True, 1)}


def test_no_reminder_for_a_revoked_key_a_disabled_owner_or_a_key_made_after_the_moment(database, amqp_channel,
                                                                                       publishers):
    revoked, revoked_owner, _ = make_key(database, [], timedelta(days=3))
    disabled, disabled_owner, _ = make_key(database, [], timedelta(days=3))
    young, young_owner, _ = make_key(database, [], timedelta(days=3), created_ago=timedelta(days=2))
    now = datetime.now(timezone.utc)
    with database.unit_of_work() as session:
        session.execute(update(ApiKey).where(ApiKey.id == revoked.id).values(revoked_at=now))
        users.disable(session, disabled_owner, "cli", now)

    loop(database, publishers()).tick()

    assert drain(amqp_channel, {revoked_owner, disabled_owner, young_owner}, settle=1.0) == []
    assert notices(database, revoked.id) == notices(database, disabled.id) == notices(database, young.id) == {}


@pytest.fixture
def two_replicas(settings):
    """Two auth services on the same stores (each its own gRPC port), looking for reminders every second."""
    fast = replace(settings, api_key_reminder_poll_seconds=1)
    return fast, replace(fast, auth_addr=f"127.0.0.1:{free_port()}")


def test_replicas_of_the_auth_service_send_each_reminder_once_across_a_restart(database, amqp_channel,
                                                                               two_replicas):
    row, owner, _ = make_key(database, [contact := new_address()], timedelta(days=6))
    first, second = two_replicas
    with running(first, "auth"), running(second, "auth"):
        sent = drain(amqp_channel, {owner, contact}, expect=2, settle=3.0)  # three looks of each replica
    assert sorted(e.to for e in sent) == sorted([owner, contact])
    with running(first, "auth"):  # restarted
        assert drain(amqp_channel, {owner, contact}, settle=3.0) == []
    assert notices(database, row.id) == {"expiry-7": (True, 2)}


def test_revoking_a_key_emails_its_owner_and_contacts_at_once(auth, database, amqp_channel):
    # The auth fixture's loop looks every API_KEY_REMINDER_POLL_SECONDS (300): the revocation wakes it.
    signed_in = auth.sign_in()
    contacts = [new_address(), new_address()]
    created = auth.call("CreateApiKey", auth_pb2.CreateApiKeyRequest(
        user_id=signed_in.user.id, label="nightly export", ip=IP, notification_contacts=contacts))
    assert list(created.key.notification_contacts) == contacts
    drain(amqp_channel, {signed_in.user.email, *contacts}, settle=0.3)  # nothing due for a 180-day key

    auth.call("RevokeApiKey", auth_pb2.RevokeApiKeyRequest(user_id=signed_in.user.id, api_key_id=created.key.id,
                                                           ip=IP))

    sent = drain(amqp_channel, {signed_in.user.email, *contacts}, expect=3, timeout=10.0)
    assert sorted(e.to for e in sent) == sorted([signed_in.user.email, *contacts])
    for email in sent:
        assert email.subject == "Postman API key “nightly export” was revoked"
        assert f"ending …{created.key.last_five}" in email.text
        assert created.api_key not in email.body and created.api_key not in email.text
    assert notices(database, created.key.id) == {"revoked": (True, 3)}


def test_contacts_are_checked_by_the_auth_service(auth):
    user = auth.sign_in().user
    for contacts, message in (
        ([f"p{n}@tech.gov.sg" for n in range(6)], '"notification_contacts" may list at most 5 email addresses'),
        (["fine@tech.gov.sg", "nope"], '"notification_contacts[1]" is not an email address'),
    ):
        with pytest.raises(ServiceError) as refused:
            auth.call("CreateApiKey", auth_pb2.CreateApiKeyRequest(user_id=user.id, label="x", ip=IP,
                                                                   notification_contacts=contacts))
        assert refused.value.code == "api_validation" and refused.value.message.startswith(message)
    assert list(auth.call("ListApiKeys", auth_pb2.ListApiKeysRequest(user_id=user.id)).keys) == []
