"""The suppression list page, as a browser without scripts drives it: an officer sees their own entries and the
global ones their own campaigns caused, never another agency's; looks an address up (a global entry another agency
caused is shown without where it came from); lifts an entry after a confirmation (another officer's is not found);
adds one of their own (a recipient that is not valid is shown on its field); every form needs its CSRF token.

The campaign process (which serves SuppressionService) and auth run in-process on the test stores.
"""

from __future__ import annotations

import html as html_lib
import re
import secrets
from urllib.parse import quote

import pytest

from postman.v1 import suppression_pb2, suppression_pb2_grpc
from postman_shared.grpc import client
from tests.integration.web.conftest import audit_actions, csrf_token, post_form, user_id_of
from tests.support import service_identity
from tests.support.inprocess import running


@pytest.fixture(scope="module")
def module_system(module_settings):
    """The module's settings, with auth and campaign started once for the module (each test signs in officers of
    new agencies of its own)."""
    with running(module_settings, "auth", "campaign"):
        yield module_settings


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture
def services(module_system):
    """The module's services."""


pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture
def suppressions(settings):
    return service_identity.stub(settings.campaign_addr, suppression_pb2_grpc.SuppressionServiceStub)


def add(stub, *entries: suppression_pb2.Suppression) -> None:
    client.call(stub.AddSuppressions, suppression_pb2.AddSuppressionsRequest(entries=list(entries)))


def entry(channel: str, recipient: str, user_id: int, reason: str, source: int = 0, detail: str = "",
          created_by: str = "support") -> suppression_pb2.Suppression:
    return suppression_pb2.Suppression(channel=channel, recipient=recipient, user_id=user_id, reason=reason,
                                       source_campaign_id=source, detail=detail, created_by=created_by)


def entries_of(stub, user_id: int, **filters) -> list[suppression_pb2.Suppression]:
    return list(client.call(stub.ListSuppressions, suppression_pb2.ListSuppressionsRequest(
        user_id=user_id, limit=1000, **filters)).entries)


def page(officer, url: str, status: int = 200) -> str:
    response = officer.client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:3000])
    return response.get_data(as_text=True)


def table_rows(html: str, table_id: str = "entry-table") -> list[str]:
    """The text of each row of a table, in order, one space between words."""
    table = re.search(rf'<table class="table" id="{table_id}">.*?</table>', html, re.DOTALL)
    if table is None:
        return []
    rows = re.findall(r"<tr id=[^>]*>(.*?)</tr>", table.group(0), re.DOTALL)
    return [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def error_summary(html: str) -> list[tuple[str, str]]:
    summary = re.search(r'<div class="error-summary".*?</ul>', html, re.DOTALL)
    assert summary, "no error summary on the page"
    return [(target, html_lib.unescape(" ".join(message.split())))
            for target, message in re.findall(r'<li><a href="#([^"]+)">(.*?)</a></li>', summary.group(0), re.DOTALL)]


def campaign_of(officer, name: str) -> int:
    created = post_form(officer.client, "/campaigns/new", name=name, channel="EMAIL")
    return int(re.fullmatch(r"/campaigns/(\d+)/template", created.headers["Location"]).group(1))


@pytest.fixture
def two_agencies(web_sign_in, suppressions):
    """Officers A and B, each with a campaign and entries of their own, and a global entry each campaign caused (added
    one at a time, oldest first; the addresses are new to the test database, which every test shares)."""
    a, b = web_sign_in(), web_sign_in()
    a_id, b_id = user_id_of(a), user_id_of(b)
    a_campaign, b_campaign = campaign_of(a, "A's campaign"), campaign_of(b, "B's campaign")
    tag = secrets.token_hex(3)
    names = {"a_unsubscribed": f"a-unsubscribed-{tag}@example.com", "a_stop": f"+65912{secrets.randbelow(10**5):05d}",
             "a_bounced": f"bounced-by-a-{tag}@example.com", "b_complained": f"complained-by-b-{tag}@example.com",
             "b_unsubscribed": f"b-unsubscribed-{tag}@example.com"}
    for new in (entry("EMAIL", names["a_unsubscribed"], a_id, "unsubscribe", a_campaign, "Too many emails",
                      "unsubscribe-link"),
                entry("SMS", names["a_stop"], a_id, "sms_stop", created_by="twilio"),
                entry("EMAIL", names["a_bounced"], 0, "hard_bounce", a_campaign, "NoEmail: 550 no such user", "ses"),
                entry("EMAIL", names["b_complained"], 0, "complaint", b_campaign, "abuse", "ses"),
                entry("EMAIL", names["b_unsubscribed"], b_id, "unsubscribe", b_campaign, "Not relevant",
                      "unsubscribe-link")):
        add(suppressions, new)
    return {"a": a, "b": b, "a_id": a_id, "b_id": b_id, "a_campaign": a_campaign, "b_campaign": b_campaign, **names}


def test_the_list_shows_the_officers_entries_and_the_global_ones_their_campaigns_caused_never_another_agencys(
        two_agencies):
    t = two_agencies
    a, b = t["a"], t["b"]
    mine = page(a, "/suppressions")
    rows = table_rows(mine)
    assert [row.split(" ")[0] for row in rows] == [t["a_bounced"], t["a_stop"], t["a_unsubscribed"]]  # newest first
    assert t["b_unsubscribed"] not in mine and t["b_complained"] not in mine
    assert "Showing 1 to 3 of 3 entries, newest first" in mine
    bounced = rows[0]
    assert "Bounced: the address does not exist" in bounced and "Every agency" in bounced
    assert f"Your campaign {t['a_campaign']}" in bounced and "NoEmail: 550 no such user" in bounced
    assert f'<a href="/campaigns/{t["a_campaign"]}">Your campaign {t["a_campaign"]}</a>: NoEmail' in mine
    assert "Lift the entry for" in bounced
    assert "Replied STOP" in rows[1] and "Your campaigns" in rows[1]
    assert "Unsubscribed" in rows[2] and "Too many emails" in rows[2]
    assert "Added (Singapore time)" in mine and '<a href="/suppressions">Suppression list</a>' in mine
    for words in ("What each reason means", "every agency", "Support lifts shared entries, except those your own "
                  "campaigns caused", "Marked as spam", "Added by hand"):
        assert words in html_lib.unescape(mine), words

    theirs = table_rows(page(b, "/suppressions"))
    assert [row.split(" ")[0] for row in theirs] == [t["b_unsubscribed"], t["b_complained"]]

    assert [row.split(" ")[0] for row in table_rows(page(a, "/suppressions?channel=SMS"))] == [t["a_stop"]]
    filtered = page(a, "/suppressions?reason=hard_bounce")
    assert [row.split(" ")[0] for row in table_rows(filtered)] == [t["a_bounced"]]
    assert 'id="clear-filters"' in filtered
    assert "No entries match these filters" in page(a, "/suppressions?reason=complaint")
    assert len(table_rows(page(a, "/suppressions?channel=nonsense&reason=%3Cb%3E"))) == 3  # read as "all"


def test_a_lookup_shows_a_global_entry_without_where_it_came_from(two_agencies):
    t = two_agencies
    a = t["a"]
    found = page(a, f"/suppressions?lookup={quote(t['b_complained'])}")
    [row] = table_rows(found, "lookup-table")
    assert "Marked as spam" in row and "Every agency" in row and "Not one of your campaigns" in row
    assert "Only support can lift it" in row and "abuse" not in row
    assert f"/campaigns/{t['b_campaign']}" not in found
    assert "is on the suppression list, for every agency" in html_lib.unescape(found)

    [own] = table_rows(page(a, f"/suppressions?lookup={quote(' ' + t['a_bounced'].upper() + ' ')}"), "lookup-table")
    assert own.startswith(t["a_bounced"]) and "Lift" in own

    nothing = page(a, f"/suppressions?lookup={quote(t['b_unsubscribed'])}")  # another agency's own entry
    assert "is not on the suppression list for your campaigns" in nothing and 'id="lookup-table"' not in nothing

    wrong = a.client.get("/suppressions?lookup=not+an+address")
    assert wrong.status_code == 400
    [(target, message)] = error_summary(wrong.get_data(as_text=True))
    assert target == "lookup" and "not a valid phone number" in message
    assert '<p class="error-message" id="lookup-error">' in wrong.get_data(as_text=True)


def test_an_entry_is_lifted_after_a_confirmation_and_the_audit_trail_says_so(two_agencies, suppressions, database):
    t = two_agencies
    a, a_id = t["a"], t["a_id"]
    listing = page(a, "/suppressions")
    [bounced] = [e for e in entries_of(suppressions, a_id) if e.recipient == t["a_bounced"]]
    link = html_lib.unescape(re.search(rf'<a href="([^"]+)" id="entry-{bounced.id}-lift">', listing).group(1))
    assert link.startswith(f"/suppressions/{bounced.id}/lift?")

    confirm = page(a, link)
    assert "Lift this entry?" in confirm and t["a_bounced"] in confirm
    assert f"Campaigns of every agency will send to {t['a_bounced']} again" in confirm
    lifted = post_form(a.client, link, f"/suppressions/{bounced.id}/lift")
    assert (lifted.status_code, lifted.headers["Location"]) == (303, "/suppressions?done=lifted")

    after = page(a, "/suppressions?done=lifted")
    assert "The entry was lifted" in after and t["a_bounced"] not in after
    assert entries_of(suppressions, 0, recipient=t["a_bounced"]) == []
    [(_, target, details)] = [e for e in audit_actions(database, a_id) if e[0] == "suppression.lifted"]
    assert target == str(bounced.id)
    assert details == {"channel": "EMAIL", "recipient": t["a_bounced"], "reason": "hard_bounce", "scope": "global",
                       "source_campaign_id": t["a_campaign"]}

    [unsubscribed] = [e for e in entries_of(suppressions, a_id) if e.reason == "unsubscribe"]
    asked = page(a, f"/suppressions/{unsubscribed.id}/lift?channel=EMAIL&recipient={quote(t['a_unsubscribed'])}")
    assert "This recipient asked not to get your messages" in asked
    assert page(a, f"/suppressions/{unsubscribed.id}/lift", 404)  # no recipient to find it by: not found


def test_another_officers_entry_cannot_be_lifted_or_even_shown(two_agencies, suppressions):
    t = two_agencies
    a, b_id = t["a"], t["b_id"]
    theirs = {e.recipient: e for e in entries_of(suppressions, b_id)}
    own, caused = theirs[t["b_unsubscribed"]], theirs[t["b_complained"]]
    token = csrf_token(a.client.get("/suppressions/new"))
    for found in (own, caused):
        shown = a.client.get(f"/suppressions/{found.id}/lift?channel=EMAIL&recipient={quote(found.recipient)}")
        assert shown.status_code == 404 and found.recipient not in shown.get_data(as_text=True)
        refused = a.client.post(f"/suppressions/{found.id}/lift", data={"csrf_token": token})
        assert refused.status_code == 404 and refused.mimetype == "text/html"
        assert "that you can lift" in refused.get_data(as_text=True)
    assert {e.id for e in entries_of(suppressions, b_id)} == {own.id, caused.id}
    assert a.client.post("/suppressions/999999999999/lift", data={"csrf_token": token}).status_code == 404


def test_an_officer_adds_an_entry_of_their_own_and_a_recipient_that_is_not_valid_is_shown_on_its_field(
        web_sign_in, suppressions, database):
    officer = web_sign_in()
    user_id = user_id_of(officer)
    form = page(officer, "/suppressions/new")
    assert 'id="channel-email"' in form and 'id="recipient"' in form and 'id="note"' in form

    empty = post_form(officer.client, "/suppressions/new")
    assert empty.status_code == 400
    assert [target for target, _ in error_summary(empty.get_data(as_text=True))] == ["channel-email", "recipient"]

    wrong = post_form(officer.client, "/suppressions/new", channel="EMAIL", recipient="not-an-address")
    assert wrong.status_code == 400
    html = wrong.get_data(as_text=True)
    assert error_summary(html) == [("recipient", "'not-an-address' is not a valid email address: enter an email "
                                                 "address like name@example.com")]
    assert '<p class="error-message" id="recipient-error">' in html and 'value="not-an-address"' in html
    assert entries_of(suppressions, user_id) == []

    added = post_form(officer.client, "/suppressions/new", channel="SMS", recipient="9123 4567",
                      note="Asked by  phone <not to be texted>")
    assert (added.status_code, added.headers["Location"]) == (303, "/suppressions?done=added")
    [row] = table_rows(page(officer, "/suppressions?done=added"))
    assert row.startswith("+6591234567 SMS Added by hand Your campaigns Asked by phone <not to be texted>")
    [stored] = entries_of(suppressions, user_id)
    assert (stored.user_id, stored.reason, stored.created_by) == (user_id, "manual", "officer")
    [(_, target, details)] = [e for e in audit_actions(database, user_id) if e[0] == "suppression.added"]
    assert target == str(stored.id) and details["recipient"] == "+6591234567" and details["channel"] == "SMS"

    again = post_form(officer.client, "/suppressions/new", channel="SMS", recipient="+65 9123 4567")
    assert again.headers["Location"] == "/suppressions?done=already"
    assert "already on your suppression list" in page(officer, "/suppressions?done=already")
    assert len(entries_of(suppressions, user_id)) == 1


def test_a_form_without_its_csrf_token_is_refused(two_agencies, suppressions):
    a, a_id = two_agencies["a"], two_agencies["a_id"]
    [own] = [e for e in entries_of(suppressions, a_id) if e.reason == "sms_stop"]
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = a.client.post(f"/suppressions/{own.id}/lift", data=data)
        assert refused.status_code == 400 and "did not come from this site" in refused.get_data(as_text=True)
        added = a.client.post("/suppressions/new", data={**data, "channel": "EMAIL", "recipient": "x@example.com"})
        assert added.status_code == 400
    assert own.id in {e.id for e in entries_of(suppressions, a_id)}
    assert "x@example.com" not in {e.recipient for e in entries_of(suppressions, a_id)}


def test_an_empty_list_says_how_entries_get_there_and_a_long_one_is_paginated(web_sign_in, suppressions):
    officer = web_sign_in()
    empty = page(officer, "/suppressions")
    assert 'id="no-entries"' in empty and "nothing on your suppression list yet" in empty
    assert 'id="entry-table"' not in empty

    user_id = user_id_of(officer)
    add(suppressions, *[entry("EMAIL", f"person{n:02d}@example.com", user_id, "manual", created_by="officer")
                        for n in range(30)])
    first = page(officer, "/suppressions")
    assert len(table_rows(first)) == 25 and "Showing 1 to 25 of 30 entries" in first and 'id="next-page"' in first
    second = page(officer, "/suppressions?page=2")
    assert len(table_rows(second)) == 5 and "Showing 26 to 30 of 30 entries" in second
    shown = {row.split(" ")[0] for row in table_rows(first) + table_rows(second)}
    assert shown == {f"person{n:02d}@example.com" for n in range(30)}
    past = officer.client.get("/suppressions?page=9")
    assert (past.status_code, past.headers["Location"]) == (302, "/suppressions?page=2")


def test_the_suppression_pages_have_no_inline_script_or_style(two_agencies, suppressions):
    t = two_agencies
    a, a_id = t["a"], t["a_id"]
    [own] = [e for e in entries_of(suppressions, a_id) if e.reason == "sms_stop"]
    for url in ("/suppressions", f"/suppressions?lookup={quote(t['a_bounced'])}", "/suppressions/new",
                f"/suppressions/{own.id}/lift?channel=SMS&recipient={quote(t['a_stop'])}"):
        html = page(a, url)
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), url
        assert not re.search(r'\sstyle="|\son[a-z]+="', html), url
