"""End to end, every service a process, email through an SMTP server started by the test: an officer proves a sender
address with the link mailed to it, a campaign from that address arrives with that From; an unverified From is
refused at save, a draft saved before the rule is refused at send, and a scheduled send whose address was removed in
the meantime is not released (the officer is emailed why)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

import pytest
import requests
from sqlalchemy import update

from postman_campaign.models import EmailTemplate
from tests.fakes.smtp import FakeSmtpServer, ReceivedMessage
from tests.support.api_client import ApiError, PostmanApi

pytestmark = pytest.mark.e2e

OFFICER = "clinic.head@agency.gov.sg"
SENDER = "bookings@agency.gov.sg"
FROM = f"Clinic Bookings <{SENDER}>"
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


def signed_in(gateway: str, smtp: FakeSmtpServer) -> requests.Session:
    browser = requests.Session()
    assert browser.post(f"{gateway}/v1/auth/otp", json={"email": OFFICER}).status_code == 200
    body = re.sub("<[^>]+>", " ", text_of(email_to(smtp, OFFICER, "one-time password")))
    password = re.search(r"\b([A-Z0-9]{6})\b", body).group(1)
    assert browser.post(f"{gateway}/v1/auth/login", json={"email": OFFICER, "otp": password}).status_code == 200
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


def test_a_verified_sender_address_is_the_from_of_a_campaign_and_an_unverified_one_never_is(system, smtp,
                                                                                            database):
    gateway = system.gateway_url
    officer = signed_in(gateway, smtp)

    # The address is proven by the link mailed to it, followed in its owner's browser (not signed in).
    added = officer.post(f"{gateway}/v1/settings/email/from/verify", json={"email": SENDER})
    assert added.status_code == 200 and added.json()["status"] == "PENDING", added.text
    link = re.search(r'href="([^"]+/sender-addresses/confirm\?token=[^"]+)"',
                     text_of(email_to(smtp, SENDER, "as a sender address"))).group(1)
    mailbox = requests.Session()
    page = mailbox.get(link)
    assert page.status_code == 200 and SENDER in page.text
    done = mailbox.post(f"{gateway}/sender-addresses/confirm", data={
        "csrf_token": _CSRF.search(page.text).group(1), "token": _TOKEN.search(page.text).group(1)})
    assert done.status_code == 200 and "Sender address confirmed" in done.text
    assert officer.get(f"{gateway}/v1/settings/email/from").json()["from"][0] == SENDER

    key = officer.post(f"{gateway}/v1/api-key", json={"label": "e2e"}).json()["api_key"]
    api = PostmanApi(gateway, key)

    # A campaign from the verified address arrives with exactly that From.
    sent = campaign_ready(api, "Verified", FROM)
    api.send(sent)
    assert api.wait_for_status(sent, "LOGGED", timeout=120)["sent"] == RECIPIENTS
    arrived = [m for m in smtp.campaign_messages if m.rcpt_tos[0].startswith("verified")]
    assert len(arrived) == RECIPIENTS
    assert {m.parsed()["From"] for m in arrived} == {FROM} and {m.mail_from for m in arrived} == {SENDER}

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
    later = campaign_ready(api, "Later", FROM)
    when = datetime.now(UTC) + timedelta(seconds=4)
    api.call("POST", f"/v1/campaign/{later}/email/send", data={"scheduledTiming": when.isoformat()})
    [entry] = officer.get(f"{gateway}/v1/settings/email/from").json()["addresses"]
    assert officer.delete(f"{gateway}/v1/settings/email/from/{entry['id']}").status_code == 200
    notice = email_to(smtp, OFFICER, "Scheduled campaign not sent", timeout=60)
    assert SENDER in text_of(notice) and "draft again" in text_of(notice)
    assert api.call("GET", f"/v1/campaign/{later}/email")["job_queue"] == []
    time.sleep(2)
    assert not [m for m in smtp.campaign_messages if m.rcpt_tos[0].startswith("later")]
    recipients_mail = [m for m in smtp.campaign_messages if m.rcpt_tos[0].endswith("@example.gov.sg")]
    assert len(recipients_mail) == RECIPIENTS  # the verified campaign's, and nothing else reached a recipient
    assert all(parseaddr(m.parsed()["From"])[1] == SENDER for m in recipients_mail)
