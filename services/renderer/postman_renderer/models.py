"""Tables owned by the renderer service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class RenderProgress(Base):
    """How far a send job's rendering got: recipients up to last_recipient_id are published and confirmed."""

    __tablename__ = "render_progress"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    last_recipient_id: Mapped[int] = mapped_column(BigInteger, default=0)
    published: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
