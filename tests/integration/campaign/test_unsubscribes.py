"""Unsubscribes against PostgreSQL: one per campaign and recipient, the owner's suppression entry with it, undone by
resubscribing, streamed for the export, and digested weekly for the owner."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from postman_campaign import digests, suppression, unsubscribes
from postman_campaign.models import Campaign, EmailTemplate, Unsubscribe, UnsubscribeDigest
from postman_shared.grpc.errors import NotFound
from tests.integration.campaign.support import new_user_id


def _email_campaign(database, owner: int, channel: str = "EMAIL", name: str = "Flu jabs") -> int:
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=owner, name=name, type=channel, recipient_keys=[])
        session.add(campaign)
        session.flush()
        if channel == "EMAIL":
            session.add(EmailTemplate(campaign_id=campaign.id, subject="Hi", body="<p>Hi</p>", params=[],
                                      from_address="Ministry of Health via Postman <donotreply@mail.postman.gov.sg>"))
        return campaign.id


def _address() -> str:
    return f"ana.{secrets.token_hex(4)}@example.com"


def _screened(database, owner: int, address: str) -> list[tuple[str, str]]:
    with database.session() as session:
        return [(s.outcome, s.reason) for s in suppression.screen(session, "EMAIL", [(owner, address)])]


def test_unsubscribing_records_it_once_and_suppresses_the_address_for_the_owners_campaigns_only(database):
    owner = new_user_id()
    campaign_id, address = _email_campaign(database, owner), _address()

    first = unsubscribes.unsubscribe(database, campaign_id, address.upper(), "Too many emails", "page")
    again = unsubscribes.unsubscribe(database, campaign_id, address, "Another reason", "one-click")

    assert (first.created, again.created) == (True, False)
    assert (first.recipient, first.reason, again.reason) == (address, "Too many emails", "Too many emails")
    assert first.sender_name == "Ministry of Health via Postman"
    assert _screened(database, owner, address) == [("UNSUBSCRIBED", "unsubscribe")]
    assert _screened(database, new_user_id(), address) == []
    assert unsubscribes.state(database, campaign_id, address).unsubscribed


def test_a_reason_given_later_completes_an_unsubscribe_that_had_none(database):
    campaign_id, address = _email_campaign(database, new_user_id()), _address()
    unsubscribes.unsubscribe(database, campaign_id, address, "", "one-click")

    later = unsubscribes.unsubscribe(database, campaign_id, address, "I never signed up", "page")

    assert (later.created, later.reason) == (False, "I never signed up")


def test_resubscribing_withdraws_the_owners_unsubscribes_and_the_suppression(database):
    owner = new_user_id()
    first, second, address = _email_campaign(database, owner), _email_campaign(database, owner), _address()
    unsubscribes.unsubscribe(database, first, address, "", "page")
    unsubscribes.unsubscribe(database, second, address, "", "page")

    state = unsubscribes.resubscribe(database, second, address)

    assert not state.unsubscribed
    assert _screened(database, owner, address) == []
    assert not unsubscribes.state(database, first, address).unsubscribed


@pytest.mark.parametrize("channel", ["SMS", "TELEGRAM"])
def test_only_an_email_campaign_has_unsubscribe_links(database, channel):
    campaign_id = _email_campaign(database, new_user_id(), channel)
    with pytest.raises(NotFound):
        unsubscribes.unsubscribe(database, campaign_id, _address(), "", "page")
    with pytest.raises(NotFound):
        unsubscribes.state(database, 987654321987, _address())


def test_the_export_streams_a_campaigns_unsubscribes_in_batches(database):
    campaign_id = _email_campaign(database, new_user_id())
    addresses = sorted(_address() for _ in range(5))
    for n, address in enumerate(addresses):
        unsubscribes.unsubscribe(database, campaign_id, address, f"reason {n}", "page")

    batches = list(unsubscribes.stream(database, campaign_id, batch_size=2))

    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert {(u.recipient, u.reason) for batch in batches for u in batch} == {
        (address, f"reason {n}") for n, address in enumerate(addresses)}


def _outbox_notices(database, prefix: str) -> list[dict]:
    with database.session() as session:
        return [row.body for row in session.execute(text(
            "SELECT body FROM campaign_outbox WHERE routing_key = 'owner.notices' AND message_id LIKE :p "
            "ORDER BY id"), {"p": prefix + "%"})]


def test_each_owner_gets_one_digest_of_last_weeks_unsubscribes_whatever_the_replicas(database):
    owner, quiet_owner = new_user_id(), new_user_id()
    campaign_id = _email_campaign(database, owner, name="Dengue <alert>")
    _email_campaign(database, quiet_owner)
    last_week = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)  # a Wednesday
    this_week = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    for when, reason in ((last_week, "Too many emails"), (last_week, ""), (this_week, "Changed my mind this week")):
        address = _address()
        unsubscribes.unsubscribe(database, campaign_id, address, reason, "page")
        with database.unit_of_work() as session:
            session.execute(update(Unsubscribe).where(Unsubscribe.recipient == address).values(created_at=when))

    now = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)  # Wednesday of the next week, Singapore time
    sent = digests.send_due_digests(database, "https://postman.example.gov.sg", now)
    again = digests.send_due_digests(database, "https://postman.example.gov.sg", now)

    assert (sent, again) == (1, 0)
    [notice] = _outbox_notices(database, f"notice-digest-{owner}-")
    assert notice["notice_id"] == f"notice-digest-{owner}-20261123"
    assert notice["user_id"] == owner
    assert "2 recipients unsubscribed" in notice["body"] and "Too many emails" in notice["body"]
    assert "Dengue &lt;alert&gt;" in notice["body"] and "Changed my mind" not in notice["body"]
    assert _outbox_notices(database, f"notice-digest-{quiet_owner}-") == []
    with database.session() as session:
        claimed = session.scalars(select(UnsubscribeDigest.unsubscribes).where(UnsubscribeDigest.user_id == owner))
        assert list(claimed) == [2]


def test_weeks_run_monday_to_sunday_in_singapore_time():
    # 2026-11-29 17:00 UTC is Monday 30 November 01:00 in Singapore: the week of the 23rd is complete.
    monday, start, end = digests.last_complete_week(datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc))
    assert monday.isoformat() == "2026-11-23"
    assert (start.isoformat(), end - start) == ("2026-11-23T00:00:00+08:00", timedelta(days=7))
    # An hour earlier it is still Sunday in Singapore: the last complete week is the one before.
    assert digests.last_complete_week(datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc))[0].isoformat() == \
        "2026-11-16"
