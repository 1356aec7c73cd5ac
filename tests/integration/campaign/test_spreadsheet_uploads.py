"""Spreadsheet recipient files through the real upload path: an .xlsx or .ods ends as the campaign's recipients,
a faulty one as an error that names the file, the row and the column."""

from __future__ import annotations

import datetime

from sqlalchemy import select

from postman_campaign.models import Recipient
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running
from tests.unit.campaign.spreadsheet_files import ods_bytes, xlsx_bytes

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _recipients(database, campaign_id):
    with database.session() as session:
        return session.execute(select(Recipient.line, Recipient.recipient, Recipient.params, Recipient.valid)
                               .where(Recipient.campaign_id == campaign_id).order_by(Recipient.id)).all()


def test_an_xlsx_file_becomes_the_campaigns_recipient_list(settings, database):
    data = xlsx_bytes([["Recipient", "Name", "Appointment"],
                       ["Officer0@Example.GOV.SG", "Tan Ah Kow", datetime.datetime(2026, 12, 1, 10, 0)],
                       [],
                       ["not an address", "Lim", datetime.date(2026, 12, 2)]])
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        # The API's clients may declare a spreadsheet's own type (an extension of Postman's text/csv).
        started = api.call("StartUpload", campaign_id=campaign_id, mime_type=XLSX_TYPE, md5="")
        key = started.presigned_url.split("?", 1)[0].rsplit("/", 1)[1]
        api.put_file(key, data)
        api.call("CompleteUpload", campaign_id=campaign_id, transaction_id=started.transaction_id,
                 filename="recipients.xlsx")
        status = api.wait_processed(campaign_id)
        campaign = api.get(campaign_id)

    assert status.csv_error == "" and status.num_recipients == 2
    assert campaign.csv_filename == "recipients.xlsx" and campaign.num_invalid == 1
    rows = _recipients(database, campaign_id)
    assert [(r.line, r.recipient, r.valid) for r in rows] == [
        (2, "officer0@example.gov.sg", True), (4, "not an address", False)]
    assert rows[0].params == {"recipient": "officer0@example.gov.sg", "name": "Tan Ah Kow",
                              "appointment": "2026-12-01 10:00"}


def test_an_ods_file_of_phone_numbers_becomes_an_sms_campaigns_list(settings, database):
    data = ods_bytes([["recipient", "name"], ["9123 4567", "Tan"], ["+65 8123 4567", "Lim"]])
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create(channel="SMS")
        status = api.upload(campaign_id, data, filename="numbers.ods")

    assert status.csv_error == "" and status.num_recipients == 2
    assert [r.recipient for r in _recipients(database, campaign_id)] == ["+6591234567", "+6581234567"]


def test_a_faulty_spreadsheet_fails_with_its_row_and_column_and_keeps_the_list(settings, database):
    good = xlsx_bytes([["recipient"], ["a@example.gov.sg"]])
    bad = xlsx_bytes([["recipient", "name"], ["b@example.gov.sg", "Tan", "stray"]])
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        api.upload(campaign_id, good, filename="first.xlsx")
        status = api.upload(campaign_id, bad, filename="second.xlsx")
        damaged = api.upload(campaign_id, good[:300], filename="third.xlsx")

    assert status.csv_error.startswith('second.xlsx: row 2, column C has a value ("stray")')
    assert damaged.csv_error.startswith("third.xlsx is not a readable Excel workbook")
    assert [r.recipient for r in _recipients(database, campaign_id)] == ["a@example.gov.sg"]
