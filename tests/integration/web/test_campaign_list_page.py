"""The campaign list page: the officer's campaigns only, newest first, with their status and counts; filters by
channel and status and search by name (a GET form: every filtered page has its address); pages of 10 or 25 with
previous/next and numbered links; the empty state; every name escaped."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_campaign.models import Campaign, Job
from postman_shared.grpc import client
from postman_stats.models import CampaignCounter
from tests.support import service_identity

pytestmark = pytest.mark.usefixtures("pipeline")


@pytest.fixture
def officer(web_sign_in):
    return web_sign_in()


def user_id_of(officer) -> int:
    return officer.client.get("/v1/auth/userinfo").json["id"]


def create(settings, user_id: int, name: str, channel: str = "EMAIL") -> int:
    stub = service_identity.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
    return client.call(stub.CreateCampaign, campaign_pb2.CreateCampaignRequest(user_id=user_id, name=name,
                                                                               type=channel)).id


def names_on(page: str) -> list[str]:
    return re.findall(r'<td><a href="/campaigns/\d+">([^<]*)</a></td>', page)


def test_an_officer_without_campaigns_is_invited_to_create_one(officer):
    page = officer.text("/campaigns")
    assert 'id="no-campaigns"' in page and '<a href="/campaigns/new" class="button" id="create-first-campaign">' in page
    assert 'id="filters"' not in page


def test_the_list_shows_status_dates_and_counts_of_each_campaign(officer, settings, database):
    user_id = user_id_of(officer)
    draft, scheduled, sending, sent = (create(settings, user_id, name, channel) for name, channel in (
        ("Draft one", "EMAIL"), ("Scheduled one", "SMS"), ("Sending one", "TELEGRAM"), ("Sent one", "EMAIL")))
    create(settings, user_id + 10_000, "Someone else's")
    later = datetime(2030, 1, 2, 3, 4, tzinfo=timezone.utc)
    with database.unit_of_work() as session:
        session.execute(update(Campaign).where(Campaign.id == sent).values(num_recipients=12, num_invalid=2))
        session.add_all([Job(campaign_id=scheduled, status="READY", scheduled_at=later),
                         Job(campaign_id=sending, status="SENDING", sent_at=later - timedelta(days=1)),
                         Job(campaign_id=sent, status="LOGGED", sent_at=later - timedelta(days=2)),
                         CampaignCounter(campaign_id=sent, sent=7, error=3)])

    page = officer.text("/campaigns")
    assert names_on(page) == ["Sent one", "Sending one", "Scheduled one", "Draft one"]  # newest first
    rows = {name: row for name, row in re.findall(r'<tr id="campaign-\d+">\s*<td><a[^>]*>([^<]*)</a></td>(.*?)</tr>',
                                                  page, re.S)}
    assert '<strong class="tag tag--grey">Draft</strong>' in rows["Draft one"]
    assert '<strong class="tag tag--yellow">Scheduled</strong>' in rows["Scheduled one"]
    # Times in the display zone (Singapore), labelled, with the UTC instant for machines.
    assert 'For <time datetime="2030-01-02T03:04:00+00:00">2 January 2030, 11:04am (Singapore time)</time>' \
        in rows["Scheduled one"]
    assert "<td>Telegram</td>" in rows["Sending one"] and ">Sending</strong>" in rows["Sending one"]
    sent_cells = re.findall(r'<td class="table__numeric">(.*?)</td>', rows["Sent one"])
    assert sent_cells == ['10<span class="caption"> (+2 invalid)</span>', "7", "3"]
    assert ">Sent</strong>" in rows["Sent one"] and "31 December 2029, 11:04am (Singapore time)" in rows["Sent one"]
    assert "Someone else" not in page


def test_filters_and_search_narrow_the_list_and_keep_their_values(officer, settings, database):
    user_id = user_id_of(officer)
    for name, channel in (("Flu jab reminder", "SMS"), ("Flu jab letter", "EMAIL"), ("Tax notice", "SMS"),
                          ("100% off_sale", "EMAIL")):
        create(settings, user_id, name, channel)
    with database.unit_of_work() as session:
        tax = session.query(Campaign).filter_by(user_id=user_id, name="Tax notice").one()
        session.add(Job(campaign_id=tax.id, status="SENT"))

    assert names_on(officer.text("/campaigns?channel=SMS")) == ["Tax notice", "Flu jab reminder"]
    assert names_on(officer.text("/campaigns?name=flu+JAB")) == ["Flu jab letter", "Flu jab reminder"]
    assert names_on(officer.text("/campaigns?name=flu&channel=SMS")) == ["Flu jab reminder"]
    assert names_on(officer.text("/campaigns?status=Sent")) == ["Tax notice"]
    assert names_on(officer.text("/campaigns?status=Draft&channel=SMS")) == ["Flu jab reminder"]
    assert names_on(officer.text("/campaigns?name=100%25")) == ["100% off_sale"]  # % is not a wildcard
    assert names_on(officer.text("/campaigns?name=_")) == ["100% off_sale"]
    filtered = officer.text("/campaigns?channel=SMS&status=Draft&name=flu")
    assert '<option value="SMS" selected>SMS</option>' in filtered and '<option value="Draft" selected>' in filtered
    assert 'value="flu"' in filtered and 'id="clear-filters"' in filtered

    nothing = officer.text("/campaigns?name=nothing+like+this")
    assert 'id="no-match"' in nothing and names_on(nothing) == []
    # A value the form would not send is read as "all", not an error page.
    assert len(names_on(officer.text("/campaigns?channel=FAX&status=Lost&per_page=1000&page=x"))) == 4


def test_pages_of_10_or_25_with_numbered_previous_and_next_links(officer, settings):
    user_id = user_id_of(officer)
    for number in range(1, 58):
        create(settings, user_id, f"Campaign {number:02d}")

    first = officer.text("/campaigns")
    assert names_on(first) == [f"Campaign {n:02d}" for n in range(57, 47, -1)]
    assert "Showing 1 to 10 of 57 campaigns" in first and 'id="previous-page"' not in first
    assert '<a href="/campaigns?page=2" rel="next" id="next-page">' in first
    assert '<a href="/campaigns?page=6"><span class="visually-hidden">Page </span>6</a>' in first  # the last page
    assert 'aria-current="page"' in first

    third = officer.text("/campaigns?page=3")
    assert names_on(third)[0] == "Campaign 37" and '<a href="/campaigns?page=2" rel="prev"' in third

    big = officer.text("/campaigns?per_page=25&page=3&name=Campaign")
    assert names_on(big) == [f"Campaign {n:02d}" for n in range(7, 0, -1)]
    assert "Showing 51 to 57 of 57 campaigns" in big
    assert '<a href="/campaigns?name=Campaign&amp;per_page=25&amp;page=2" rel="prev"' in big  # filters kept

    past_the_end = officer.client.get("/campaigns?page=99")
    assert past_the_end.status_code == 302 and past_the_end.headers["Location"] == "/campaigns?page=6"


def test_a_campaign_name_with_markup_is_shown_as_text(officer, settings):
    create(settings, user_id_of(officer), '<script>alert("x")</script><img src=x onerror=alert(1)>')
    page = officer.text("/campaigns")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    searched = officer.text('/campaigns?name="><script>x</script>')
    assert "<script>x" not in searched and 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in searched
