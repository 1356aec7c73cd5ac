"""The weekly digest: each owner whose campaigns were unsubscribed from last week gets one email saying who and why.

Weeks run Monday to Sunday in Singapore time. Every hour the loop looks at the last complete week; for each owner
with unsubscribes in it, one transaction claims the (owner, week) row of ``unsubscribe_digests`` and writes the
notice to the outbox, so a digest goes out once however many campaign replicas run the loop and whenever one of
them restarts. A week with no unsubscribes sends nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from postman_campaign import notices
from postman_campaign.models import Campaign, Unsubscribe, UnsubscribeDigest
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.timestamps import utcnow

CHECK_SECONDS = 3600.0

log = get_logger(component="digests")


def last_complete_week(now: datetime) -> tuple[date, datetime, datetime]:
    """(its Monday, its start, its end) of the last complete Monday-to-Sunday week, Singapore time."""
    today = now.astimezone(notices.SINGAPORE).date()
    this_monday = today - timedelta(days=today.weekday())
    monday = this_monday - timedelta(days=7)
    start = datetime.combine(monday, time(), tzinfo=notices.SINGAPORE)
    return monday, start, start + timedelta(days=7)


def send_due_digests(database: Database, public_url: str, now: datetime | None = None) -> int:
    """Writes the digest of every owner with unsubscribes last week who has not had it; returns how many."""
    monday, start, end = last_complete_week(now or utcnow())
    with database.session() as session:
        owners = session.execute(
            select(Unsubscribe.user_id, func.count()).where(Unsubscribe.created_at >= start,
                                                            Unsubscribe.created_at < end)
            .group_by(Unsubscribe.user_id).order_by(Unsubscribe.user_id)).all()
    sent = 0
    for user_id, total in owners:
        with database.unit_of_work() as session:
            claimed = session.execute(insert(UnsubscribeDigest).values(user_id=user_id, week_start=monday,
                                                                       unsubscribes=total)
                                      .on_conflict_do_nothing().returning(UnsubscribeDigest.user_id)).first()
            if claimed is None:
                continue  # sent before, by this replica or another
            rows = session.execute(
                select(Unsubscribe.campaign_id, Campaign.name, Unsubscribe.recipient, Unsubscribe.reason,
                       Unsubscribe.created_at)
                .join(Campaign, Campaign.id == Unsubscribe.campaign_id)
                .where(Unsubscribe.user_id == user_id, Unsubscribe.created_at >= start, Unsubscribe.created_at < end)
                .order_by(Unsubscribe.created_at).limit(notices.DIGEST_ROWS)).all()
            notices.digest(session, user_id, monday, [notices.DigestRow(*row) for row in rows], total, public_url)
        sent += 1
        log.info("unsubscribe digest written", user_id=user_id, week_start=monday.isoformat(), unsubscribes=total)
    return sent


def run(database: Database, public_url: str, after_commit: Callable[[], object], stopping: threading.Event,
        interval: float = CHECK_SECONDS) -> None:
    """Checks at start and then every ``interval`` seconds until ``stopping`` is set."""
    while True:
        try:
            if send_due_digests(database, public_url):
                after_commit()
        except Exception:  # noqa: BLE001 - the loop must outlive a database or broker hiccup
            log.exception("weekly digests failed, trying again at the next check")
        if stopping.wait(interval):
            return
