"""A campaign's export: every recipient of its file with what happened to it.

The recipients stream from campaign in id order; this campaign's outcomes, and who unsubscribed through its links,
are loaded once into dicts, so each row is a lookup, not a query. Rows leave in batches as they are ready. The
status is upstream Postman's word where it has one (``postman_shared.outcomes.EXPORT_STATUS``): READ for an opened
email, INVALID_RECIPIENT for a bounce or complaint, with ``error_code`` saying which.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select

from postman.v1 import stats_pb2
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.outcomes import EXPORT_STATUS, MessageStatus
from postman_shared.timestamps import to_timestamp
from postman_stats.campaign_client import CampaignClient
from postman_stats.models import MessageOutcome

_FETCH = 10_000


def export_campaign(database: Database, campaigns: CampaignClient, campaign_id: int,
                    user_id: int) -> Iterator[stats_pb2.ExportBatch]:
    campaign = campaigns.get_campaign(campaign_id, user_id)  # not_found for another user's campaign
    if campaign.redacted:
        raise ServiceError(ErrorCode.CAMPAIGN_REDACTED, "This campaign has been redacted")
    outcomes = load_outcomes(database, campaign_id)
    unsubscribes = campaigns.unsubscribes(campaign_id) if campaign.type == "EMAIL" else {}
    for recipients in campaigns.all_recipients(campaign_id):
        rows = []
        for recipient in recipients:
            outcome = outcomes.get(recipient.id)
            if outcome is not None:
                status, error_code, sub_type, updated_at = outcome
                row = stats_pb2.ExportRow(recipient=recipient.recipient,
                                          status=EXPORT_STATUS.get(MessageStatus(status), status),
                                          error_code=error_code or "", error_sub_type=sub_type or "",
                                          updated_at=to_timestamp(updated_at))
            else:
                row = stats_pb2.ExportRow(recipient=recipient.recipient,
                                          status="UNSENT" if recipient.valid else "INVALID")
            unsubscribed = unsubscribes.get(recipient.recipient)
            if unsubscribed is not None:
                row.unsubscriber_recipient = unsubscribed.recipient
                row.unsubscriber_reason = unsubscribed.reason
            rows.append(row)
        yield stats_pb2.ExportBatch(rows=rows)


def load_outcomes(database: Database, campaign_id: int) -> dict[int, tuple[str, str | None, str | None, datetime]]:
    """recipient id -> (status, error code, error sub-type, recorded at), read with a server-side cursor."""
    statement = (
        select(MessageOutcome.recipient_id, MessageOutcome.status, MessageOutcome.error_code,
               MessageOutcome.error_sub_type, MessageOutcome.updated_at)
        .where(MessageOutcome.campaign_id == campaign_id)
        .execution_options(yield_per=_FETCH)
    )
    with database.session() as session:
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in session.execute(statement)}
