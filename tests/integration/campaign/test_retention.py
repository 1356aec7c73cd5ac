"""Retention on the real database: redaction keeps the counts and the stats, goes batch by batch, survives a crash
and two purgers at once, never touches a campaign still sending; transactional messages and audit events go after
their retention; one person's data is erased everywhere; a deleted draft takes its upload's file with it."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import text

from postman_campaign import campaign_retry, management, wire
from postman_campaign.campaigns import get_campaign
from postman_campaign.retention import (
    PurgeReport,
    Retention,
    dry_run,
    erase_recipient,
    mark_redacted,
    normalise_recipient,
    purge,
    purge_campaign_batch,
)
from postman_shared.grpc.errors import ServiceError
from postman_shared.object_store import LocalObjectStore
from postman_shared.timestamps import utcnow
from postman_stats import reading

RETENTION = Retention(campaign_days=30, transactional_days=30, audit_days=365, batch_size=7)


@dataclass(frozen=True)
class Finished:
    id: int
    user_id: int
    job_id: int
    recipients: int


def make_campaign(database, recipients: int = 20, days_ago: float = 40, status: str = "LOGGED",
                  address: str | None = None) -> Finished:
    """A sent campaign straight into the tables: template, job, recipients (one of them ``address``), an outcome,
    a delivery and the counters of each message."""
    user_id = secrets.randbelow(2**40) + 1
    tag = secrets.token_hex(4)
    with database.unit_of_work() as session:
        campaign_id = session.scalar(text(
            "INSERT INTO campaigns (user_id, name, type, csv_filename, recipient_keys, num_recipients, num_invalid) "
            "VALUES (:u, 'Retention test', 'EMAIL', 'people.csv', '{recipient,name}', :n, 1) RETURNING id"),
            {"u": user_id, "n": recipients})
        session.execute(text("INSERT INTO email_templates (campaign_id, subject, body, from_address, params) "
                             "VALUES (:c, 'Hello', '<p>Dear {{name}}</p>', 'donotreply@mail.postman.gov.sg', "
                             "'{name}')"), {"c": campaign_id})
        job_id = session.scalar(text(
            "INSERT INTO jobs (campaign_id, status, status_updated_at, sent_at) "
            "VALUES (:c, :s, now() - make_interval(secs => :d * 86400), now() - make_interval(secs => :d * 86400)) "
            "RETURNING id"), {"c": campaign_id, "s": status, "d": days_ago})
        session.execute(text(
            "INSERT INTO recipients (campaign_id, line, recipient, params, valid) "
            "SELECT :c, n + 1, 'p' || n || '-' || :t || '@example.com', "
            "jsonb_build_object('name', 'Person ' || n), n > 1 FROM generate_series(1, :n) n"),
            {"c": campaign_id, "t": tag, "n": recipients})
        if address:
            session.execute(text("UPDATE recipients SET recipient = :a WHERE id = (SELECT min(id) FROM recipients "
                                 "WHERE campaign_id = :c)"), {"a": address, "c": campaign_id})
        session.execute(text(
            "INSERT INTO message_outcomes (recipient_id, campaign_id, job_id, status) "
            "SELECT id, campaign_id, :j, CASE WHEN id % 5 = 0 THEN 'ERROR' ELSE 'DELIVERED' END FROM recipients "
            "WHERE campaign_id = :c AND valid"), {"c": campaign_id, "j": job_id})
        session.execute(text(
            "INSERT INTO email_deliveries (message_id, campaign_id, status, recipient_id, error_reason) "
            "SELECT id::text, campaign_id, 'SENT', id, '250 ok for ' || recipient FROM recipients "
            "WHERE campaign_id = :c AND valid"), {"c": campaign_id})
        session.execute(text(
            "INSERT INTO campaign_counters (campaign_id, job_id, sent, error, delivered, expected, logged_at) "
            "SELECT :c, :j, count(*) FILTER (WHERE status = 'DELIVERED'), count(*) FILTER (WHERE status = 'ERROR'), "
            "count(*) FILTER (WHERE status = 'DELIVERED'), count(*), now() FROM message_outcomes "
            "WHERE campaign_id = :c"), {"c": campaign_id, "j": job_id})
    return Finished(campaign_id, user_id, job_id, recipients)


def rows_of(database, campaign_id: int) -> dict[str, int]:
    with database.session() as session:
        return {
            "recipients": session.scalar(text("SELECT count(*) FROM recipients WHERE campaign_id = :c"),
                                         {"c": campaign_id}),
            "outcomes": session.scalar(text("SELECT count(*) FROM message_outcomes WHERE campaign_id = :c"),
                                       {"c": campaign_id}),
            "deliveries": session.scalar(text("SELECT count(*) FROM email_deliveries WHERE campaign_id = :c"),
                                         {"c": campaign_id}),
        }


def stats_of(database, campaign: Finished):
    with database.unit_of_work() as session:
        message = wire.campaign(get_campaign(session, campaign.id, campaign.user_id))
    return message, reading.campaign_stats(database, message)


def audit_events(database, action: str, campaign_id: int | None = None) -> list:
    with database.session() as session:
        return session.execute(text(
            "SELECT user_id, target_id, ip, details FROM audit_events WHERE action = :a "
            "AND (CAST(:c AS TEXT) IS NULL OR target_id = CAST(:c AS TEXT))"),
            {"a": action, "c": None if campaign_id is None else str(campaign_id)}).all()


def test_redaction_deletes_recipients_and_outcomes_and_keeps_the_campaign_its_counts_and_stats(database):
    campaign = make_campaign(database, recipients=20)
    _, before = stats_of(database, campaign)
    assert before.sent and before.error and not before.redacted

    report = purge(database, RETENTION)

    assert report.campaigns_redacted >= 1 and report.recipients >= 20
    assert rows_of(database, campaign.id) == {"recipients": 0, "outcomes": 0, "deliveries": 0}
    message, after = stats_of(database, campaign)
    assert message.redacted and message.HasField("redacted_at")
    assert message.num_recipients == 20 and message.email_template.subject == "Hello"  # campaign and template stay
    assert [job.id for job in message.jobs] == [campaign.job_id]  # the timeline stays
    for name in ("unsent", "sent", "error", "invalid", "unsubscribed", "delivered", "invalid_rows"):
        assert getattr(after, name) == getattr(before, name), name
    assert after.redacted and after.status == "LOGGED"
    (event,) = audit_events(database, "campaign.redacted", campaign.id)
    assert event.user_id == campaign.user_id and event.ip == "system"
    assert event.details["retention_days"] == 30 and event.details["recipients"] == 20


def test_a_redacted_campaign_refuses_retry_and_preview_with_campaign_redacted(database):
    campaign = make_campaign(database, recipients=3)
    purge(database, RETENTION)
    with pytest.raises(ServiceError) as refused:
        campaign_retry.retry_campaign(database, lambda: None, campaign.id, campaign.user_id)
    assert refused.value.code == "campaign_redacted" and refused.value.http_status == 410


def test_campaigns_still_sending_stopped_recently_or_finished_recently_are_never_touched(database):
    sending = make_campaign(database, recipients=10, days_ago=60, status="SENDING")
    queued = make_campaign(database, recipients=10, days_ago=60, status="ENQUEUED")
    recent = make_campaign(database, recipients=10, days_ago=29)
    stopped_long_ago = make_campaign(database, recipients=10, days_ago=31, status="STOPPED")

    purge(database, RETENTION)

    for kept in (sending, queued, recent):
        assert rows_of(database, kept.id) == {"recipients": 10, "outcomes": 9, "deliveries": 9}
        assert not stats_of(database, kept)[0].redacted
    assert rows_of(database, stopped_long_ago.id)["recipients"] == 0  # stopped and never resumed: finished
    # A batch is never taken from a campaign that is not redacted, whoever asks.
    assert purge_campaign_batch(database, sending.id, 100) == PurgeReport()
    assert rows_of(database, sending.id)["recipients"] == 10


def test_the_purge_goes_batch_by_batch_and_a_crash_loses_only_its_open_batch(database, monkeypatch):
    campaign = make_campaign(database, recipients=20)
    cutoff = utcnow() - timedelta(days=30)
    assert mark_redacted(database, campaign.id, cutoff, 30)
    assert not mark_redacted(database, campaign.id, cutoff, 30), "marked once"

    first = purge_campaign_batch(database, campaign.id, 7)
    assert first.recipients == 7 and first.message_outcomes + first.deliveries > 0
    assert rows_of(database, campaign.id)["recipients"] == 13

    # The process dies in the middle of the next batch: its transaction rolls back, nothing half-done stays.
    from postman_campaign import retention

    def crash(*_args, **_kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(retention, "_delete_per_message", crash)
    with pytest.raises(RuntimeError):
        purge_campaign_batch(database, campaign.id, 7)
    assert rows_of(database, campaign.id)["recipients"] == 13
    monkeypatch.undo()

    # The next round (a restart) carries on where the committed batches stopped.
    report = purge(database, RETENTION)
    assert report.recipients >= 13
    assert rows_of(database, campaign.id) == {"recipients": 0, "outcomes": 0, "deliveries": 0}
    assert len(audit_events(database, "campaign.redacted", campaign.id)) == 1


def test_two_purgers_at_once_share_the_work_and_count_each_row_once(database):
    purge(database, RETENTION)  # nothing due left from other tests
    campaigns = [make_campaign(database, recipients=60) for _ in range(3)]
    expected_rows = sum(c.recipients for c in campaigns)
    reports: list[PurgeReport] = []
    start = threading.Barrier(2)

    def purger() -> None:
        start.wait()
        reports.append(purge(database, Retention(30, 30, 365, batch_size=5)))

    threads = [threading.Thread(target=purger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    total = PurgeReport()
    for report in reports:
        total.add(report)
    assert total.campaigns_redacted == 3 and total.recipients == expected_rows
    assert total.message_outcomes == sum(rows - 1 for rows in (c.recipients for c in campaigns))
    for campaign in campaigns:
        assert rows_of(database, campaign.id) == {"recipients": 0, "outcomes": 0, "deliveries": 0}
        assert len(audit_events(database, "campaign.redacted", campaign.id)) == 1


def test_dry_run_counts_what_would_go_and_changes_nothing(database):
    purge(database, RETENTION)
    campaign = make_campaign(database, recipients=12)
    with database.unit_of_work() as session:
        session.execute(text("INSERT INTO transactional_sms (user_id, credentials_label, recipient, body, status, "
                             "created_at) VALUES (1, 'x', '+6591234567', 'old', 'SENT', now() - interval '31 days')"))

    report = dry_run(database, RETENTION)

    assert report.campaigns_redacted == 1 and report.recipients == 12
    assert report.message_outcomes == 11 and report.deliveries == 11 and report.transactional_sms >= 1
    assert rows_of(database, campaign.id)["recipients"] == 12 and not stats_of(database, campaign)[0].redacted
    assert purge(database, RETENTION).recipients == 12  # what the dry run said


def test_transactional_messages_and_audit_events_go_after_their_retention_and_not_before(database):
    with database.unit_of_work() as session:
        for age, body in (("31 days", "old"), ("1 day", "new")):
            session.execute(text(
                "INSERT INTO transactional_emails (user_id, \"from\", recipient, subject, body, status, created_at) "
                "VALUES (1, 'a@agency.gov.sg', 'r@example.com', 's', :b, 'SENT', now() - CAST(:age AS INTERVAL))"),
                {"b": f"tx-{body}", "age": age})
            session.execute(text(
                "INSERT INTO transactional_sms (user_id, credentials_label, recipient, body, status, created_at) "
                "VALUES (1, 'x', '+6591234567', :b, 'SENT', now() - CAST(:age AS INTERVAL))"),
                {"b": f"tx-{body}", "age": age})
            session.execute(text(
                "INSERT INTO email_deliveries (message_id, status, created_at) "
                "VALUES (:m, 'SENT', now() - CAST(:age AS INTERVAL))"), {"m": f"tx-{secrets.token_hex(6)}-{body}",
                                                                         "age": age})
        user_id = session.scalar(text("INSERT INTO users (email) VALUES (:e) RETURNING id"),
                                 {"e": f"officer-{secrets.token_hex(4)}@agency.gov.sg"})
        for age, token in (("2 days", "expired-long-ago"), ("1 hour", "expired-just-now"), ("-1 day", "live")):
            session.execute(text("INSERT INTO sessions (user_id, token_hash, ip, expires_at) VALUES "
                                 "(:u, :t, '10.0.0.1', now() - CAST(:age AS INTERVAL))"),
                            {"u": user_id, "t": f"{token}-{secrets.token_hex(8)}", "age": age})
        for age in ("366 days", "364 days"):
            session.execute(text(
                "INSERT INTO audit_events (action, ip, details, at) VALUES ('test.retention', 'cli', "
                "CAST(:d AS JSONB), now() - CAST(:age AS INTERVAL))"), {"d": f'{{"age": "{age}"}}', "age": age})

    report = purge(database, RETENTION)

    assert report.transactional_emails >= 1 and report.transactional_sms >= 1 and report.audit_events >= 1
    assert report.email_deliveries_outside_campaigns >= 1
    with database.session() as session:
        assert set(session.scalars(text("SELECT body FROM transactional_emails WHERE body LIKE 'tx-%'"))) == {"tx-new"}
        assert set(session.scalars(text("SELECT body FROM transactional_sms WHERE body LIKE 'tx-%'"))) == {"tx-new"}
        assert all(m.endswith("-new") for m in session.scalars(text(
            "SELECT message_id FROM email_deliveries WHERE message_id LIKE 'tx-%'")))
        assert [d["age"] for d in session.scalars(text(
            "SELECT details FROM audit_events WHERE action = 'test.retention'"))] == ["364 days"]
        left = {token.rsplit("-", 1)[0] for token in session.scalars(text(
            "SELECT token_hash FROM sessions WHERE user_id = :u"), {"u": user_id})}
        assert left == {"expired-just-now", "live"}, "a session goes a day after it expired"


def test_erase_recipient_removes_one_person_everywhere_and_keeps_their_suppression(database):
    address = f"erase-{secrets.token_hex(4)}@example.com"
    number = f"+658{secrets.randbelow(10**7):07d}"  # its own number: other modules' subscribers share the database
    finished = make_campaign(database, recipients=5, days_ago=2, address=address)
    sending = make_campaign(database, recipients=5, days_ago=0, status="SENDING", address=address)
    with database.unit_of_work() as session:
        session.execute(text(
            "INSERT INTO transactional_emails (user_id, \"from\", recipient, cc, subject, body, status) VALUES "
            "(1, 'a@agency.gov.sg', :a, '{}', 's', 'to them', 'SENT'), "
            "(1, 'a@agency.gov.sg', 'someone@example.com', ARRAY[:a, 'other@example.com'], 's', 'cc them', 'SENT')"),
            {"a": address})
        session.execute(text("INSERT INTO transactional_sms (user_id, credentials_label, recipient, body, status) "
                             "VALUES (1, 'x', :n, 'hello', 'SENT')"), {"n": number})
        session.execute(text("INSERT INTO telegram_subscribers (bot_id, phone_number, chat_id, telegram_user_id) "
                             "VALUES (42, :n, 7, 8) ON CONFLICT DO NOTHING"), {"n": number})
        session.execute(text("INSERT INTO suppressions (channel, recipient, user_id, reason, created_by) "
                             "VALUES ('EMAIL', :a, 0, 'hard_bounce', 'test')"), {"a": address})

    counted = erase_recipient(database, normalise_recipient(f"  {address.upper()} ", "SG"), dry_run=True)
    assert counted.recipients == 2 and counted.transactional_emails == 2
    assert rows_of(database, finished.id)["recipients"] == 5, "a dry run changes nothing"

    erased = erase_recipient(database, address)
    assert erased.recipients == 2 and erased.transactional_emails == 2
    phone = erase_recipient(database, normalise_recipient(f"{number[3:7]} {number[7:]}", "SG"))
    assert phone.transactional_sms == 1 and phone.telegram_subscribers == 1

    with database.session() as session:
        assert session.scalar(text("SELECT count(*) FROM recipients WHERE recipient = :a"), {"a": address}) == 0
        assert session.scalar(text("SELECT count(*) FROM email_deliveries WHERE error_reason LIKE :a"),
                              {"a": f"%{address}"}) == 0
        assert session.scalar(text("SELECT count(*) FROM transactional_emails WHERE recipient = :a OR :a = ANY(cc)"),
                              {"a": address}) == 0
        assert session.scalar(text("SELECT count(*) FROM transactional_emails WHERE body = 'cc them'")) == 1
        assert session.scalar(text("SELECT count(*) FROM suppressions WHERE recipient = :a"), {"a": address}) == 1
    for campaign in (finished, sending):  # the others' rows and the counts stay
        assert rows_of(database, campaign.id)["recipients"] == 4
        assert stats_of(database, campaign)[0].num_recipients == 5
    events = audit_events(database, "recipient.erased")
    assert events and all(address not in str(event) and number not in str(event) for event in events)


def test_deleting_a_draft_deletes_its_uploaded_files(database, tmp_path):
    store = LocalObjectStore(tmp_path, "http://localhost:8080", "k" * 64, 60)
    user_id = secrets.randbelow(2**40) + 1
    with database.unit_of_work() as session:
        campaign_id = session.scalar(text("INSERT INTO campaigns (user_id, name, type) VALUES (:u, 'Draft', 'EMAIL') "
                                          "RETURNING id"), {"u": user_id})
        for status, key in (("STARTED", "never-completed"), ("DONE", "processed"), ("STARTED", "multipart")):
            session.execute(text(
                "INSERT INTO uploads (campaign_id, transaction_id, object_key, mime_type, status, part_count) "
                "VALUES (:c, :t, :k, 'text/csv', :s, :p)"),
                {"c": campaign_id, "t": secrets.token_hex(8), "k": f"{campaign_id}-{key}", "s": status,
                 "p": 2 if key == "multipart" else None})
    for name in ("never-completed", "multipart", "multipart.part1", "multipart.part2"):
        (tmp_path / f"{campaign_id}-{name}").write_text("recipient\nsomeone@example.com\n")
    (tmp_path / "another-campaigns-file").write_text("kept")

    management.delete_campaign(database, campaign_id, user_id, store)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["another-campaigns-file"]
