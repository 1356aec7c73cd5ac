"""The resume point of each send job (render_progress): one short transaction per confirmed batch."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_renderer.models import RenderProgress


def start(session: Session, job_id: int, campaign_id: int) -> RenderProgress:
    """The job's progress row, created at zero the first time (a redelivered job finds the one it left)."""
    session.execute(
        insert(RenderProgress)
        .values(job_id=job_id, campaign_id=campaign_id, last_recipient_id=0, published=0)
        .on_conflict_do_nothing(index_elements=[RenderProgress.job_id])
    )
    return session.scalars(select(RenderProgress).where(RenderProgress.job_id == job_id)).one()


def record_batch(session: Session, job_id: int, last_recipient_id: int, published: int) -> None:
    """Moves the resume point past a batch the broker has confirmed."""
    session.execute(
        update(RenderProgress)
        .where(RenderProgress.job_id == job_id)
        .values(last_recipient_id=last_recipient_id, published=RenderProgress.published + published)
    )


def finish(session: Session, job_id: int) -> None:
    session.execute(
        update(RenderProgress)
        .where(RenderProgress.job_id == job_id, RenderProgress.finished_at.is_(None))
        .values(finished_at=func.now())
    )
