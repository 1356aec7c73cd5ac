"""Emails to a campaign's owner: it finished (with its counts), it halted (and why), and the weekly digest of who
unsubscribed.

Each notice is written to the outbox in the same transaction as the change it reports (the job LOGGED, the campaign
halted, the week's digest claimed), so it is published once the change is committed and never for a change that
was rolled back. Auth, which knows the owner's address, emails it (``owner.notices``); its id makes sender-email
send it once however often it is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from html import escape

from sqlalchemy.orm import Session

from postman.v1 import common_pb2
from postman_campaign import models
from postman_campaign.models import Campaign
from postman_shared import outbox
from postman_shared.broker.topology import OWNER_NOTICES
from postman_shared.messages import OwnerNotice

SINGAPORE = timezone(timedelta(hours=8), "SGT")
DIGEST_ROWS = 500  # unsubscribes listed in one digest; the rest are counted and found in the exports


@dataclass(frozen=True)
class DigestRow:
    campaign_id: int
    campaign_name: str
    recipient: str
    reason: str
    at: datetime


def _page(public_url: str, campaign_id: int) -> str:
    return f"{public_url}/campaigns/{campaign_id}"


def _counts_table(campaign: Campaign, counts: common_pb2.OutcomeCounts) -> str:
    invalid_rows = campaign.num_invalid
    unsent = max(0, campaign.num_recipients - invalid_rows - counts.sent - counts.error - counts.invalid
                 - counts.unsubscribed)
    lines = [
        ("Recipients", campaign.num_recipients),
        ("Sent", counts.sent),
        ("of which delivered", counts.delivered + counts.opened),
        ("of which opened", counts.opened),
        ("Errors", counts.error),
        ("Invalid recipients in the file", invalid_rows),
        ("Bounced (hard / soft)", f"{counts.hard_bounced} / {counts.soft_bounced}"),
        ("Marked as spam", counts.complained),
        ("Not sent: on the suppression list", counts.blacklisted),
        ("Not sent: unsubscribed", counts.unsubscribed),
        ("Not sent yet", unsent),
    ]
    rows = "".join(f"<tr><th align=\"left\">{escape(name)}</th><td align=\"right\">{escape(str(value))}</td></tr>"
                   for name, value in lines)
    return f"<table cellpadding=\"4\">{rows}</table>"


def finished(session: Session, campaign: Campaign, job_id: int, counts: common_pb2.OutcomeCounts,
             public_url: str) -> None:
    """The job of ``campaign`` finished: every message has an outcome."""
    name = escape(campaign.name)
    body = (f"<p>Your campaign <b>{name}</b> has finished: every message has an outcome.</p>"
            f"{_counts_table(campaign, counts)}"
            f"<p>See the details and download the results: <a href=\"{escape(_page(public_url, campaign.id))}\">"
            f"{escape(_page(public_url, campaign.id))}</a></p>")
    _write(session, OwnerNotice(notice_id=f"notice-finished-{job_id}", user_id=campaign.user_id,
                                subject=f"Campaign finished: {_one_line(campaign.name)}", body=body))


def halted(session: Session, campaign: Campaign, job_id: int, reason: str, counts: common_pb2.OutcomeCounts,
           public_url: str) -> None:
    """``campaign`` was halted (``reason``); the audit trail records it with the notice."""
    page = escape(_page(public_url, campaign.id))
    body = (f"<p>Sending of your campaign <b>{escape(campaign.name)}</b> was halted: {escape(reason)}.</p>"
            "<p>No further message of it is handed to the email provider. Messages that bounced permanently or "
            "were marked as spam are on the suppression list and will not be sent to again. Check the recipient "
            "list; to send the remaining messages anyway, open the campaign and resume it.</p>"
            f"{_counts_table(campaign, counts)}<p><a href=\"{page}\">{page}</a></p>")
    _write(session, OwnerNotice(
        notice_id=f"notice-halted-{job_id}", user_id=campaign.user_id,
        subject=f"Campaign halted: {_one_line(campaign.name)}", body=body, audit_action="campaign.halted",
        audit_target_type="campaign", audit_target_id=campaign.id,
        audit_details={"job_id": job_id, "reason": reason, "notice_id": f"notice-halted-{job_id}"}))


def schedule_refused(session: Session, campaign: Campaign, job_id: int, scheduled_at: datetime | None, reason: str,
                     public_url: str) -> None:
    """A scheduled send of ``campaign`` was not released because its From may not be used (``reason``): the
    campaign is a draft again. Audited as ``campaign.schedule_cancelled``."""
    page = escape(_page(public_url, campaign.id))
    when = (f" for {scheduled_at.astimezone(SINGAPORE):%d %B %Y, %H:%M} (Singapore time)"
            if scheduled_at is not None else "")
    body = (f"<p>Your campaign <b>{escape(campaign.name)}</b> was scheduled to be sent{escape(when)}, but it was "
            "<b>not sent</b>: the address it would be sent from is not one you may send from.</p>"
            f"<p>{escape(reason)}</p>"
            "<p>The campaign is a draft again. Open it, choose a From address in its message (the default address, "
            "or one you verified in Settings &gt; Sender addresses), and send or schedule it again.</p>"
            f"<p><a href=\"{page}\">{page}</a></p>")
    _write(session, OwnerNotice(
        notice_id=f"notice-schedule-refused-{job_id}", user_id=campaign.user_id,
        subject=f"Scheduled campaign not sent: {_one_line(campaign.name)}", body=body,
        audit_action="campaign.schedule_cancelled", audit_target_type="campaign", audit_target_id=campaign.id,
        audit_details={"job_id": job_id, "reason": reason, "notice_id": f"notice-schedule-refused-{job_id}"}))


def digest(session: Session, user_id: int, week_start: date, rows: Sequence[DigestRow], total: int,
           public_url: str) -> None:
    """The week starting ``week_start`` (a Monday, Singapore time): who unsubscribed from ``user_id``'s campaigns."""
    week_end = week_start + timedelta(days=6)
    items = "".join(
        f"<tr><td>{escape(row.at.astimezone(SINGAPORE).strftime('%d %b %H:%M'))}</td>"
        f"<td>{escape(row.recipient)}</td><td><a href=\"{escape(_page(public_url, row.campaign_id))}\">"
        f"{escape(row.campaign_name)}</a></td><td>{escape(row.reason) or '<i>no reason given</i>'}</td></tr>"
        for row in rows)
    more = (f"<p>And {total - len(rows)} more: each campaign's export lists them.</p>" if total > len(rows) else "")
    body = (f"<p>{total} recipient{'' if total == 1 else 's'} unsubscribed from your campaigns in the week of "
            f"{week_start:%d %B} to {week_end:%d %B %Y}. Your later email campaigns skip them.</p>"
            "<table cellpadding=\"4\"><tr><th>When (Singapore time)</th><th>Recipient</th><th>Campaign</th>"
            f"<th>Reason</th></tr>{items}</table>{more}"
            f"<p>Manage your suppression list: <a href=\"{escape(public_url)}/suppressions\">"
            f"{escape(public_url)}/suppressions</a></p>")
    _write(session, OwnerNotice(notice_id=f"notice-digest-{user_id}-{week_start:%Y%m%d}", user_id=user_id,
                                subject=f"Unsubscribes from your campaigns, week of {week_start:%d %B %Y}",
                                body=body))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:150]


def _write(session: Session, notice: OwnerNotice) -> None:
    outbox.write(session, models.outbox, OWNER_NOTICES, notice.message_id, notice.to_dict())
