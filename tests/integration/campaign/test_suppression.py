"""The suppression list against PostgreSQL: who is screened out for whom, what an officer may see and lift, and the
SuppressionService the senders call once per batch."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from postman.v1 import suppression_pb2 as pb
from postman.v1 import suppression_pb2_grpc
from postman_campaign import suppression
from postman_campaign.models import Campaign
from postman_shared.grpc import client
from postman_shared.grpc.errors import InvalidArgument, NotFound
from tests.integration.campaign.support import new_user_id
from tests.support import service_identity
from tests.support.inprocess import running


def _address(name: str) -> str:
    return f"{name}.{secrets.token_hex(4)}@example.gov.sg"


def _campaign(database, owner: int) -> int:
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=owner, name="Suppression test", type="EMAIL", recipient_keys=[])
        session.add(campaign)
        session.flush()
        return campaign.id


def _add(database, *entries: suppression.Entry) -> int:
    with database.unit_of_work() as session:
        return suppression.add(session, list(entries))


def _screen(database, channel: str, items, **options):
    with database.session() as session:
        return {(s.user_id, s.recipient): (s.outcome, s.reason)
                for s in suppression.screen(session, channel, items, **options)}


def test_a_global_entry_stops_every_owner_and_an_owners_entry_only_theirs(database):
    owner, other = new_user_id(), new_user_id()
    bounced, unsubscribed, fine = _address("bounced"), _address("unsubscribed"), _address("fine")
    _add(database, suppression.Entry("EMAIL", bounced, 0, "hard_bounce", created_by="ses"),
         suppression.Entry("EMAIL", unsubscribed, owner, "unsubscribe", created_by="unsubscribe-page"))

    found = _screen(database, "EMAIL", [(owner, bounced), (other, bounced), (owner, unsubscribed),
                                        (other, unsubscribed), (owner, fine)])

    assert found == {(owner, bounced): ("BLACKLISTED", "hard_bounce"),
                     (other, bounced): ("BLACKLISTED", "hard_bounce"),
                     (owner, unsubscribed): ("UNSUBSCRIBED", "unsubscribe")}


def test_a_global_entry_wins_over_the_owners_own(database):
    owner = new_user_id()
    address = _address("both")
    _add(database, suppression.Entry("EMAIL", address, owner, "unsubscribe"),
         suppression.Entry("EMAIL", address, 0, "complaint"))

    assert _screen(database, "EMAIL", [(owner, address)]) == {(owner, address): ("BLACKLISTED", "complaint")}


def test_transactional_email_is_screened_against_global_entries_only(database):
    owner = new_user_id()
    unsubscribed, bounced = _address("unsubscribed"), _address("bounced")
    _add(database, suppression.Entry("EMAIL", unsubscribed, owner, "unsubscribe"),
         suppression.Entry("EMAIL", bounced, 0, "hard_bounce"))

    found = _screen(database, "EMAIL", [(owner, unsubscribed), (owner, bounced)], transactional=True)

    assert found == {(owner, bounced): ("BLACKLISTED", "hard_bounce")}


def test_with_unsubscribe_scope_off_email_unsubscribes_do_not_stop_later_campaigns_but_sms_stops_do(database):
    owner = new_user_id()
    address, number = _address("notices"), "+6591230001"
    _add(database, suppression.Entry("EMAIL", address, owner, "unsubscribe"),
         suppression.Entry("SMS", number, owner, "sms_stop"))

    assert _screen(database, "EMAIL", [(owner, address)], unsubscribes_suppress=False) == {}
    assert _screen(database, "SMS", [(owner, number)], unsubscribes_suppress=False) == {
        (owner, number): ("UNSUBSCRIBED", "sms_stop")}


def test_an_entry_is_added_once_normalised_and_keeps_its_first_reason(database):
    address = _address("twice")
    first = _add(database, suppression.Entry("EMAIL", address.upper(), 0, "hard_bounce", detail="NoEmail"))
    again = _add(database, suppression.Entry("email", f"  {address} ", 0, "complaint"))
    number = _add(database, suppression.Entry("SMS", "9123 0002", new_user_id(), "manual"))

    assert (first, again, number) == (1, 0, 1)
    assert _screen(database, "EMAIL", [(1, address)]) == {(1, address): ("BLACKLISTED", "hard_bounce")}


@pytest.mark.parametrize(("entry", "problem"), [
    (suppression.Entry("EMAIL", "not an address", 0, "manual"), "is not a valid email address"),
    (suppression.Entry("SMS", "12", 0, "manual"), "is not a valid phone number"),
    (suppression.Entry("FAX", "a@b.gov.sg", 0, "manual"), "channel must be one of"),
    (suppression.Entry("EMAIL", "a@b.gov.sg", 0, "because"), "reason must be one of"),
])
def test_an_entry_that_is_not_one_is_refused_with_what_is_wrong(database, entry, problem):
    with pytest.raises(InvalidArgument, match=problem):
        _add(database, entry)


def test_an_officer_sees_their_own_entries_and_the_global_ones_their_campaigns_caused_but_no_other_agencys(database):
    officer, other = new_user_id(), new_user_id()
    own_campaign, other_campaign = _campaign(database, officer), _campaign(database, other)
    mine, caused_by_me, caused_by_other = _address("mine"), _address("caused"), _address("elsewhere")
    _add(database, suppression.Entry("EMAIL", mine, officer, "unsubscribe", source_campaign_id=own_campaign),
         suppression.Entry("EMAIL", caused_by_me, 0, "hard_bounce", detail="NoEmail 550 5.1.1",
                           source_campaign_id=own_campaign, source_message_id="17"),
         suppression.Entry("EMAIL", caused_by_other, 0, "complaint", detail="abuse",
                           source_campaign_id=other_campaign, source_message_id="18"),
         suppression.Entry("EMAIL", _address("theirs"), other, "unsubscribe", source_campaign_id=other_campaign))

    with database.session() as session:
        listed, total = suppression.list_entries(session, officer)
        seen = {(item.entry.recipient, item.can_lift, item.show_source) for item in listed}
        looked_up = [(item.entry.recipient, item.entry.reason, item.can_lift, item.show_source)
                     for item in suppression.list_entries(session, officer, recipient=caused_by_other)[0]]

    assert total == 2
    assert seen == {(mine, True, True), (caused_by_me, True, True)}
    assert looked_up == [(caused_by_other, "complaint", False, False)]


def test_an_officer_lifts_what_they_may_and_support_lifts_anything(database):
    officer, other = new_user_id(), new_user_id()
    own_campaign, other_campaign = _campaign(database, officer), _campaign(database, other)
    mine, elsewhere = _address("mine"), _address("elsewhere")
    _add(database, suppression.Entry("EMAIL", mine, 0, "hard_bounce", source_campaign_id=own_campaign),
         suppression.Entry("EMAIL", elsewhere, 0, "hard_bounce", source_campaign_id=other_campaign))
    with database.session() as session:
        ids = {item.entry.recipient: item.entry.id for address in (mine, elsewhere)
               for item in suppression.list_entries(session, 0, recipient=address)[0]}

    with database.unit_of_work() as session:
        suppression.lift(session, ids[mine], officer)
    with pytest.raises(NotFound):
        with database.unit_of_work() as session:
            suppression.lift(session, ids[elsewhere], officer)
    assert _screen(database, "EMAIL", [(officer, mine), (officer, elsewhere)]) == {
        (officer, elsewhere): ("BLACKLISTED", "hard_bounce")}
    with database.unit_of_work() as session:
        suppression.lift(session, ids[elsewhere], 0)
    assert _screen(database, "EMAIL", [(officer, elsewhere)]) == {}


def test_senders_screen_a_batch_in_one_call_through_the_suppression_service(settings, database):
    owner = new_user_id()
    bounced, stopped, fine = _address("bounced"), "+6591230003", _address("fine")
    with running(replace(settings, unsubscribe_scope="owner"), "campaign"):
        stub = service_identity.stub(settings.campaign_addr, suppression_pb2_grpc.SuppressionServiceStub)
        added = client.call(stub.AddSuppressions, pb.AddSuppressionsRequest(entries=[
            pb.Suppression(channel="EMAIL", recipient=bounced, reason="hard_bounce", created_by="ses"),
            pb.Suppression(channel="SMS", recipient=stopped, user_id=owner, reason="sms_stop", created_by="twilio"),
        ]))
        email = client.call(stub.ScreenRecipients, pb.ScreenRecipientsRequest(channel="EMAIL", items=[
            pb.ScreenItem(user_id=owner, recipient=bounced), pb.ScreenItem(user_id=owner, recipient=fine)]))
        sms = client.call(stub.ScreenRecipients, pb.ScreenRecipientsRequest(channel="SMS", items=[
            pb.ScreenItem(user_id=owner, recipient=stopped), pb.ScreenItem(user_id=owner + 1, recipient=stopped)]))

    assert added.added == 2
    assert [(s.recipient, s.outcome, s.reason) for s in email.suppressed] == [(bounced, "BLACKLISTED", "hard_bounce")]
    assert email.suppressed[0].since.seconds > 0
    assert [(s.user_id, s.outcome) for s in sms.suppressed] == [(owner, "UNSUBSCRIBED")]
