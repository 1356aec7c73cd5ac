"""Automatic halting, with stats and campaign running in-process on the real stores: a campaign whose hard bounces
(or complaints) pass both the count and the share halts by itself, once; one below either threshold goes on."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from postman_shared.messages import DeliveryEvent
from postman_stats.halting import Thresholds
from tests.integration.stats.support import wait_until
from tests.support.inprocess import running


def _campaign_state(database, campaign_id: int) -> tuple[bool, str | None, str]:
    with database.session() as session:
        row = session.execute(text(
            "SELECT c.halted, c.halt_reason, (SELECT status FROM jobs WHERE campaign_id = c.id ORDER BY id DESC "
            "LIMIT 1) AS job FROM campaigns c WHERE c.id = :c"), {"c": campaign_id}).one()
    return row.halted, row.halt_reason, row.job


def _counted(database, campaign_id: int) -> int:
    with database.session() as session:
        return session.execute(text("SELECT coalesce(sum(hard_bounced + complained), 0) FROM campaign_counters "
                                    "WHERE campaign_id = :c"), {"c": campaign_id}).scalar_one()


def _bounce(recipient_id: int, campaign_id: int) -> DeliveryEvent:
    return DeliveryEvent(recipient_id, campaign_id, 0, "BOUNCED", "hard_bounce", "550 5.1.1 user unknown",
                         kind="receipt", error_sub_type="NoEmail")


def _complaint(recipient_id: int, campaign_id: int) -> DeliveryEvent:
    return DeliveryEvent(recipient_id, campaign_id, 0, "COMPLAINT", "complaint", None, kind="receipt",
                         error_sub_type="abuse")


def test_a_campaign_halts_by_itself_once_its_hard_bounces_pass_both_thresholds(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=40, job_status="SENDING")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.sent(n) for n in range(40)])
        publish_events([_bounce(campaign.valid[n][0], campaign.id) for n in range(10)])
        wait_until(lambda: _counted(database, campaign.id) == 10, what="ten bounces counted")
        assert _campaign_state(database, campaign.id)[0] is False  # 10 is not more than 10

        publish_events([_bounce(campaign.valid[10][0], campaign.id)])
        wait_until(lambda: _campaign_state(database, campaign.id)[0], what="the campaign halted")

    halted, reason, job = _campaign_state(database, campaign.id)
    assert job == "STOPPED"
    assert reason.startswith("11 of 40 messages sent bounced permanently (27.5%)")


def test_bounces_under_the_share_do_not_halt_but_complaints_have_a_smaller_threshold(
        settings, database, amqp_channel, make_campaign, publish_events):
    bounced, complained = make_campaign(valid=200, job_status="SENDING"), make_campaign(valid=200, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([c.sent(n) for c in (bounced, complained) for n in range(200)])
        publish_events([_bounce(bounced.valid[n][0], bounced.id) for n in range(15)]  # 7.5%: under 10%
                       + [_complaint(complained.valid[n][0], complained.id) for n in range(4)])  # 2%: over 0.1%
        wait_until(lambda: _counted(database, bounced.id) == 15, what="fifteen bounces counted")
        wait_until(lambda: _campaign_state(database, complained.id)[0], what="the complained-about campaign halted")

    assert _campaign_state(database, bounced.id)[:2] == (False, None)
    halted, reason, job = _campaign_state(database, complained.id)
    assert job == "STOPPED" and reason.startswith("4 of 200 recipients marked the message as spam (2.0%)")


@pytest.mark.parametrize(("counts", "halts"), [
    ((100, 11, 0), True), ((100, 10, 0), False), ((109, 11, 0), True), ((110, 11, 0), False),
    ((1000, 0, 4), True), ((1000, 0, 3), False), ((10000, 0, 10), False), ((0, 0, 0), False),
])
def test_the_thresholds_need_more_than_both_the_count_and_the_share(counts, halts):
    handed, hard, complaints = counts
    assert (Thresholds().reason(handed, hard, complaints) is not None) == halts


def test_thresholds_come_from_the_settings(settings):
    custom = Thresholds.from_settings(replace(settings, halt_hard_bounces=2, halt_hard_bounce_percent=50.0,
                                              halt_complaints=0, halt_complaint_percent=0.0))
    assert custom.reason(4, 3, 0) is not None and custom.reason(4, 2, 0) is None
    assert custom.reason(1000, 0, 1) is not None
