"""The pictures of the campaign pages, as a browser without scripts gets them: the campaign page's outcomes over time
(an SVG image with its text alternative and its numbers in a table), the fragment its script swaps in while it sends
(its owner's only), and the campaign list's last 30 days.

The services run in-process on the test stores; the messages go to a local SMTP server that refuses one address.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.fakes.smtp import FakeSmtpServer
from tests.integration.web.test_campaign_outcomes_pages import REFUSED, finished, page, sent_campaign
from tests.support.inprocess import running


@pytest.fixture
def smtp():
    with FakeSmtpServer(refuse={REFUSED: "User unknown"}) as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    return replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port)


@pytest.fixture
def services(settings):
    """Everything but sender-email, started once the officers signed in (their passwords go to the outbox)."""
    with running(settings, "auth", "campaign", "renderer", "stats"):
        yield


pytestmark = pytest.mark.usefixtures("services")


def test_the_campaign_page_shows_its_outcomes_as_a_picture_with_words_and_numbers(web_sign_in, settings):
    officer = web_sign_in()
    campaign, _ = sent_campaign(officer, "Pictured")
    with running(settings, "sender-email"):
        progress = finished(officer, campaign)
    assert (progress["sent"], progress["error"]) == (4, 1)

    shown = page(officer, campaign)
    svg = re.search(r'<svg [^>]*id="outcome-chart".*?</svg>', shown, re.DOTALL)
    assert svg, "no picture on the campaign page"
    assert 'role="img"' in svg.group(0) and 'aria-describedby="outcome-chart-desc"' in svg.group(0)
    assert "<title id=\"outcome-chart-title\">Messages of Pictured by outcome over time</title>" in svg.group(0)
    description = re.search(r'<desc id="outcome-chart-desc">(.*?)</desc>', svg.group(0)).group(1)
    assert "5 messages reached an outcome" in description and "failed 1" in description
    assert "(Singapore time)" in description
    assert " style=" not in svg.group(0)
    table = re.search(r'<table class="table table--compact" id="outcome-table">.*?</table>', shown, re.DOTALL)
    assert table and ">Failed</th>" in table.group(0)
    last_row = re.findall(r"<tr><th scope=\"row\">[^<]+</th>(.*?)</tr>", table.group(0))[-1]
    assert sum(int(n.replace(",", "")) for n in re.findall(r">([\d,]+)</td>", last_row)) == 5
    assert 'data-chart-url="' + campaign + '/chart"' in shown

    fragment = page(officer, f"{campaign}/chart")
    assert fragment.lstrip().startswith('<figure class="chart-figure" id="outcome-figure"')
    assert 'id="outcome-figure"' in fragment and 'id="outcome-chart"' in fragment and "<html" not in fragment


def test_a_picture_is_its_owners_only(web_sign_in, settings):
    owner, intruder = web_sign_in(), web_sign_in()
    campaign, _ = sent_campaign(owner, "Mine")
    with running(settings, "sender-email"):
        finished(owner, campaign)

    assert intruder.client.get(f"{campaign}/chart").status_code == 404
    assert intruder.client.get(campaign).status_code == 404
    assert owner.client.get(f"{campaign}/chart").status_code == 200


def test_the_campaign_list_shows_the_last_thirty_days_of_sending(web_sign_in, settings):
    officer, newcomer = web_sign_in(), web_sign_in()
    campaign, _ = sent_campaign(officer, "Counted today")
    with running(settings, "sender-email"):
        finished(officer, campaign)

    listed = page(officer, "/campaigns")
    assert 'id="sending-overview"' in listed
    assert "Your last 30 days: 5 messages sent" in listed  # the refused one too: it was sent, and failed
    svg = re.search(r'<svg [^>]*id="overview-chart".*?</svg>', listed, re.DOTALL)
    assert svg and 'role="img"' in svg.group(0)
    assert "5 messages sent in the last 30 days" in svg.group(0)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="table__numeric">([\d,]+)</td></tr>', listed)
    assert len(rows) == 30 and rows[-1][1] == "5"

    assert 'id="sending-overview"' not in page(newcomer, "/campaigns")  # no campaign yet: the guide, no picture
