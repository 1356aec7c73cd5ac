"""Recipient file uploads through the real service: COPY into PostgreSQL, all or nothing, with clear errors."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from postman_campaign.models import Recipient, Upload
from postman_shared.grpc.errors import ServiceError
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running

BAD_FILES = {
    "bad_no_recipient_column.csv": 'needs a column named "recipient"',
    "bad_ragged_row.csv": "line 3",
    "bad_duplicate_header.csv": '"name" twice',
    "bad_header_only.csv": "no recipients",
    "bad_empty.csv": "is empty",
    "bad_latin1.csv": "not in UTF-8",
}


def _recipients(database, campaign_id):
    with database.session() as session:
        return session.execute(select(Recipient.line, Recipient.recipient, Recipient.params, Recipient.valid)
                               .where(Recipient.campaign_id == campaign_id).order_by(Recipient.id)).all()


def test_a_good_file_becomes_the_campaigns_recipient_list(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        status = api.upload(campaign_id, "email_basic.csv")
        campaign = api.get(campaign_id)

    assert status.csv_error == "" and status.csv_filename == "email_basic.csv" and status.num_recipients == 5
    assert status.rows_processed == 5 and status.temp_csv_filename == ""
    assert campaign.csv_filename == "email_basic.csv" and campaign.num_recipients == 5 and campaign.num_invalid == 0
    rows = _recipients(database, campaign_id)
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0].recipient == "officer0@example.gov.sg"
    assert rows[0].params == {"recipient": "officer0@example.gov.sg", "name": "Tan Ah Kow",
                              "appointment": "2026-12-01 10:00"}
    assert all(r.valid for r in rows)
    assert not list(settings.upload_dir.iterdir()), "the processed file is deleted from the store"


def test_excel_export_keeps_unicode_and_quoted_commas(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        status = api.upload(campaign_id, "email_excel_export.csv")
    assert status.csv_error == "" and status.num_recipients == 3
    stored = {r.recipient: r.params for r in _recipients(database, campaign_id)}
    assert all(address == address.strip().lower() for address in stored)
    assert any("," in value for params in stored.values() for value in params.values())
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in value) for p in stored.values() for value in p.values())


def test_invalid_emails_are_stored_counted_and_marked_invalid(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        status = api.upload(campaign_id, "bad_invalid_emails.csv")
        campaign = api.get(campaign_id)
    assert status.csv_error == "" and status.num_recipients == 4
    assert campaign.num_recipients == 4 and campaign.num_invalid == 3
    assert [r.recipient for r in _recipients(database, campaign_id) if r.valid] == ["c@example.gov.sg"]


@pytest.mark.parametrize("bad_file, message", sorted(BAD_FILES.items()))
def test_a_bad_file_fails_with_its_reason_and_keeps_the_previous_list(settings, database, bad_file, message):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        api.upload(campaign_id, "email_basic.csv")
        before = _recipients(database, campaign_id)
        status = api.upload(campaign_id, bad_file)
        campaign = api.get(campaign_id)

    assert message in status.csv_error and bad_file in status.csv_error
    assert status.temp_csv_filename == bad_file
    assert status.csv_filename == "email_basic.csv" and status.num_recipients == 5
    assert campaign.csv_filename == "email_basic.csv" and campaign.num_recipients == 5
    assert _recipients(database, campaign_id) == before
    assert not list(settings.upload_dir.iterdir()), "a rejected file is deleted too"


def test_a_good_upload_after_a_failed_one_clears_the_error(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        assert api.upload(campaign_id, "bad_ragged_row.csv").csv_error
        status = api.upload(campaign_id, "email_basic.csv")
    assert status.csv_error == "" and status.temp_csv_filename == "" and status.num_recipients == 5


def test_values_with_tabs_newlines_and_backslashes_are_stored_exactly_and_nul_is_dropped(settings, database):
    awkward = 'C:\\temp\\new\tcol "q"\r\nsecond line \\N \x00'
    content = ('recipient,note\r\nodd@example.gov.sg,"' + awkward.replace('"', '""') + '"\r\n').encode()
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        status = api.upload(campaign_id, content)
    assert status.csv_error == ""
    [row] = _recipients(database, campaign_id)
    assert row.params["note"] == awkward.replace("\x00", "")  # PostgreSQL text and jsonb cannot hold NUL


def test_completing_an_unknown_transaction_is_refused(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        with pytest.raises(ServiceError) as error:
            api.call("CompleteUpload", campaign_id=campaign_id, transaction_id="nope", filename="x.csv")
    assert error.value.code == "invalid_parameters" and "Unknown transaction_id" in error.value.message


def test_completing_before_the_file_was_put_says_so(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        _key, transaction_id = api.start_upload(campaign_id)
        with pytest.raises(ServiceError) as error:
            api.call("CompleteUpload", campaign_id=campaign_id, transaction_id=transaction_id, filename="x.csv")
    assert error.value.code == "invalid_parameters"
    assert "not uploaded to the presigned URL" in error.value.message
    with database.session() as session:
        assert session.scalar(select(Upload.status).where(Upload.transaction_id == transaction_id)) == "STARTED"


def test_a_transaction_of_another_campaign_is_unknown(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        first, second = api.create(), api.create()
        key, transaction_id = api.start_upload(first)
        api.put_file(key, b"recipient\na@example.gov.sg\n")
        with pytest.raises(ServiceError) as error:
            api.call("CompleteUpload", campaign_id=second, transaction_id=transaction_id, filename="x.csv")
    assert "Unknown transaction_id" in error.value.message


def test_only_csv_mime_types_are_accepted(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        with pytest.raises(ServiceError) as error:
            api.call("StartUpload", campaign_id=campaign_id, mime_type="application/pdf", md5="")
        for accepted in ("text/csv", "application/vnd.ms-excel", "text/plain; charset=utf-8"):
            assert api.call("StartUpload", campaign_id=campaign_id, mime_type=accepted, md5="").transaction_id
    assert error.value.code == "invalid_parameters" and "application/pdf" in error.value.message


def test_an_upload_left_processing_by_a_crash_is_processed_at_start(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        key, transaction_id = api.start_upload(campaign_id)
    api.put_file(key, b"recipient,name\nlate@example.gov.sg,Late\n")
    with database.unit_of_work() as session:  # the state a crash right after CompleteUpload leaves behind
        upload = session.scalars(select(Upload).where(Upload.transaction_id == transaction_id)).one()
        upload.status, upload.filename = "PROCESSING", "late.csv"
    with running(settings, "campaign"):
        status = api.wait_processed(campaign_id)
    assert status.csv_filename == "late.csv" and status.num_recipients == 1
