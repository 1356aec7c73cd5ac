"""End to end, every service a process, email through an SMTP server started by the test: an officer proves a sender
address with the link mailed to it, a campaign from that address arrives with that From and in the theme of the
officer's agency (masthead, logo, footer, text part); an unverified From is refused at save, a draft saved before
the rule is refused at send, and a scheduled send whose address was removed in the meantime is not released (the
officer is emailed why)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from html import escape

import pytest
import requests
from sqlalchemy import update

from postman_campaign.models import EmailTemplate
from tests.fakes.smtp import FakeSmtpServer, ReceivedMessage
from tests.support.agencies import Officer, officer_of_new_agency
from tests.support.api_client import ApiError, PostmanApi

pytestmark = pytest.mark.e2e

RECIPIENTS = 5
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


def email_to(smtp: FakeSmtpServer, address: str, subject_words: str, timeout: float = 30.0) -> ReceivedMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.to(address):
            if subject_words in message.parsed()["Subject"]:
                return message
        time.sleep(0.05)
    raise AssertionError(f"no email to {address} about {subject_words!r}")


def text_of(message: ReceivedMessage) -> str:
    return message.parsed().get_content()


def signed_in(gateway: str, smtp: FakeSmtpServer, email: str) -> requests.Session:
    browser = requests.Session()
    assert browser.post(f"{gateway}/v1/auth/otp", json={"email": email}).status_code == 200
    body = re.sub("<[^>]+>", " ", text_of(email_to(smtp, email, "one-time password")))
    password = re.search(r"\b([A-Z0-9]{6})\b", body).group(1)
    assert browser.post(f"{gateway}/v1/auth/login", json={"email": email, "otp": password}).status_code == 200
    return browser


def campaign_ready(api: PostmanApi, name: str, from_address: str) -> int:
    campaign_id = api.create_campaign(name)
    api.call("PUT", f"/v1/campaign/{campaign_id}/email/template", json={
        "subject": "Your booking, {{ name }}", "body": "<p>Dear {{ name }}</p>", "reply_to": None,
        "from": from_address})
    rows = ["recipient,name"] + [f"{name.lower()}{i}@example.gov.sg,Person {i}" for i in range(RECIPIENTS)]
    api.upload(campaign_id, ("\n".join(rows) + "\n").encode(), "people.csv")
    assert not api.wait_for_upload(campaign_id).get("csv_error")
    return campaign_id


def assert_in_the_theme_of(officer: Officer, campaign_id: int, email: EmailMessage, name: str) -> None:
    """The email is an official email of the officer's agency (as tests/e2e/test_email_campaign.py checks it): the
    government masthead (a .gov.sg owner), the agency's logo (``show_logo`` by default), the body, a footer naming the
    agency with how to tell the email is genuine and the recipient's own unsubscribe link, and a text/plain part."""
    assert email.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in email.iter_parts()] == ["text/plain", "text/html"]
    html = email.get_body(("html",)).get_content()
    text = email.get_body(("plain",)).get_content().replace("\r\n", "\n")
    agency = escape(officer.agency)
    assert "An email from a Singapore Government agency" in html
    assert f'<img src="{officer.logo_uri}" alt="{agency}"' in html
    assert f"<p>Dear {name}</p>" in html
    assert f'font-weight:bold;color:#1a1a1a;">{agency}</p>' in html
    assert "How to tell that this email is genuine" in html
    unsubscribe = email["List-Unsubscribe"].strip("<>")
    assert f"/unsubscribe/{campaign_id}/{email['To']}?" in unsubscribe
    assert f'<a href="{unsubscribe.replace("&", "&amp;")}" style' in html
    assert text.startswith(f"An email from a Singapore Government agency\n\nDear {name}\n\n{officer.agency}\n")
    assert "How to tell that this email is genuine" in text and text.endswith(f"unsubscribe ({unsubscribe}).\n")


def test_a_verified_sender_address_is_the_from_of_a_campaign_and_an_unverified_one_never_is(system, smtp,
                                                                                            database):
    gateway = system.gateway_url
    # An officer of an agency (name, logo, a .gov.sg domain of its own), sending from an address in that domain.
    agency_officer = officer_of_new_agency(database, name="Ministry of Clinics", local_part="clinic.head")
    sender = f"bookings@{agency_officer.domain}"
    from_ = f"Clinic Bookings <{sender}>"
    officer = signed_in(gateway, smtp, agency_officer.email)

    # The address is proven by the link mailed to it, followed in its owner's browser (not signed in).
    added = officer.post(f"{gateway}/v1/settings/email/from/verify", json={"email": sender})
    assert added.status_code == 200 and added.json()["status"] == "PENDING", added.text
    link = re.search(r'href="([^"]+/sender-addresses/confirm\?token=[^"]+)"',
                     text_of(email_to(smtp, sender, "as a sender address"))).group(1)
    mailbox = requests.Session()
    page = mailbox.get(link)
    assert page.status_code == 200 and sender in page.text
    done = mailbox.post(f"{gateway}/sender-addresses/confirm", data={
        "csrf_token": _CSRF.search(page.text).group(1), "token": _TOKEN.search(page.text).group(1)})
    assert done.status_code == 200 and "Sender address confirmed" in done.text
    assert officer.get(f"{gateway}/v1/settings/email/from").json()["from"][0] == sender

    key = officer.post(f"{gateway}/v1/api-key", json={"label": "e2e"}).json()["api_key"]
    api = PostmanApi(gateway, key)

    # A campaign from the verified address arrives with exactly that From.
    sent = campaign_ready(api, "Verified", from_)
    api.send(sent)
    assert api.wait_for_status(sent, "LOGGED", timeout=120)["sent"] == RECIPIENTS
    arrived = [m for m in smtp.campaign_messages if m.rcpt_tos[0].startswith("verified")]
    assert len(arrived) == RECIPIENTS
    assert {m.parsed()["From"] for m in arrived} == {from_} and {m.mail_from for m in arrived} == {sender}
    # ... and in the theme of the officer's agency.
    for message in arrived:
        i = int(message.rcpt_tos[0].removeprefix("verified").split("@")[0])
        assert_in_the_theme_of(agency_officer, sent, message.parsed(), f"Person {i}")

    # An unverified From is refused when the template is saved.
    refused = api.create_campaign("Unverified")
    with pytest.raises(ApiError, match="invalid_from_address"):
        api.call("PUT", f"/v1/campaign/{refused}/email/template", json={
            "subject": "Hi", "body": "<p>Hi</p>", "reply_to": None, "from": "Director <director@agency.gov.sg>"})

    # A draft saved before the rule (its From only had to be an address) is refused at send: nothing goes out.
    legacy = campaign_ready(api, "Legacy", "Postman <donotreply@mail.postman.gov.sg>")
    with database.unit_of_work() as session:
        session.execute(update(EmailTemplate).where(EmailTemplate.campaign_id == legacy)
                        .values(from_address="Director <director@agency.gov.sg>"))
    with pytest.raises(ApiError, match="invalid_from_address"):
        api.send(legacy)
    assert api.call("GET", f"/v1/campaign/{legacy}/email")["job_queue"] == []

    # A send scheduled from the verified address, which is then removed: it is not released, the campaign is a
    # draft again, and the officer is emailed why.
    later = campaign_ready(api, "Later", from_)
    when = datetime.now(UTC) + timedelta(seconds=4)
    api.call("POST", f"/v1/campaign/{later}/email/send", data={"scheduledTiming": when.isoformat()})
    [entry] = officer.get(f"{gateway}/v1/settings/email/from").json()["addresses"]
    assert officer.delete(f"{gateway}/v1/settings/email/from/{entry['id']}").status_code == 200
    notice = email_to(smtp, agency_officer.email, "Scheduled campaign not sent", timeout=60)
    assert sender in text_of(notice) and "draft again" in text_of(notice)
    assert api.call("GET", f"/v1/campaign/{later}/email")["job_queue"] == []
    time.sleep(2)
    assert not [m for m in smtp.campaign_messages if m.rcpt_tos[0].startswith("later")]
    recipients_mail = [m for m in smtp.campaign_messages if m.rcpt_tos[0].endswith("@example.gov.sg")]
    assert len(recipients_mail) == RECIPIENTS  # the verified campaign's, and nothing else reached a recipient
    assert all(parseaddr(m.parsed()["From"])[1] == sender for m in recipients_mail)
