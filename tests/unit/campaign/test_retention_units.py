"""The purge's report, its metrics and how erase-recipient reads an address or a number (no database)."""

from __future__ import annotations

import pytest

from postman_campaign import metrics
from postman_campaign.retention import PurgeReport, Retention, normalise_recipient, redacted_error
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings


def test_reports_add_up_and_the_total_counts_rows_not_campaigns():
    report = PurgeReport(campaigns_redacted=1, recipients=5)
    report.add(PurgeReport(recipients=2, message_outcomes=3, audit_events=4))
    assert (report.campaigns_redacted, report.recipients, report.total()) == (1, 7, 14)


def test_each_committed_batch_moves_the_counters_by_kind():
    rows = metrics.PURGED_ROWS.labels("recipients")
    before, campaigns = rows._value.get(), metrics.CAMPAIGNS_REDACTED._value.get()
    metrics.count_purged(PurgeReport(campaigns_redacted=1, recipients=5000))
    assert rows._value.get() == before + 5000
    assert metrics.CAMPAIGNS_REDACTED._value.get() == campaigns + 1


def test_the_retention_settings_and_their_cutoffs():
    settings = Settings.from_env({"CAMPAIGN_RETENTION_DAYS": "7", "AUDIT_RETENTION_DAYS": "400"})
    retention = Retention.from_settings(settings)
    assert (retention.campaign_days, retention.transactional_days, retention.audit_days, retention.batch_size) == (
        7, 30, 400, 5000)
    assert settings.dead_letter_retention_days == 14


def test_an_address_is_lower_cased_and_a_number_made_e164():
    assert normalise_recipient("  Someone@Example.COM ", "SG") == "someone@example.com"
    assert normalise_recipient("8123 4567", "SG") == "+6581234567"
    with pytest.raises(ServiceError) as refused:
        normalise_recipient("12", "SG")
    assert refused.value.code == "invalid_recipient"


def test_the_refusal_of_a_redacted_campaign_is_410():
    error = redacted_error(20)
    assert (error.code, error.http_status) == ("campaign_redacted", 410) and "Campaign 20" in error.message
