"""Abandoned uploads are deleted: a file PUT to its presigned URL but never completed would otherwise stay forever.

An upload still STARTED ``UPLOAD_ABANDON_HOURS`` after it began will not be completed (its URL expired long ago):
it becomes ABANDONED and its object (and, for the local store, its parts) is deleted. The local store is then swept
of every other file older than that which no PROCESSING upload still reads: parts never joined, temporary files of
writes that died, objects whose row is gone with its campaign. S3 has its own rule for what the service never sees
(multipart uploads never completed, objects of a deleted campaign): a bucket lifecycle rule, documented in
``deploy/k8s/README.md``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update

from postman_campaign.models import Upload
from postman_campaign.uploads import ABANDONED, PROCESSING, STARTED
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.object_store import LocalObjectStore, ObjectStore, part_key
from postman_shared.timestamps import utcnow

log = get_logger(component="upload_sweeper")


def sweep_abandoned_uploads(database: Database, store: ObjectStore, abandon_hours: int,
                            now: datetime | None = None) -> int:
    """One sweep; returns how many uploads were abandoned."""
    cutoff = (now or utcnow()) - timedelta(hours=abandon_hours)
    with database.unit_of_work() as session:
        abandoned = session.execute(
            update(Upload).where(Upload.status == STARTED, Upload.created_at < cutoff)
            .values(status=ABANDONED, updated_at=utcnow())
            .returning(Upload.id, Upload.campaign_id, Upload.object_key, Upload.part_count)).all()
    for upload_id, campaign_id, key, part_count in abandoned:
        keys = [key, *(part_key(key, number) for number in range(1, (part_count or 0) + 1))] \
            if isinstance(store, LocalObjectStore) else [key]  # S3: its lifecycle rule aborts the parts
        for each in keys:
            try:
                store.delete(each)
            except Exception as exc:  # noqa: BLE001 - the lifecycle rule or the next local sweep gets it
                log.warning("could not delete an abandoned upload", upload_id=upload_id, object_key=each,
                            error=str(exc))
        log.info("upload abandoned", upload_id=upload_id, campaign_id=campaign_id, object_key=key)
    if isinstance(store, LocalObjectStore):
        with database.session() as session:
            in_use = set(session.scalars(select(Upload.object_key).where(Upload.status.in_((STARTED, PROCESSING)))))
        for name in store.sweep(cutoff.timestamp(), keep=in_use):
            log.info("leftover upload file deleted", object_key=name)
    return len(abandoned)


class UploadSweeper:
    """Runtime loop: a sweep at start and then every ``interval`` seconds."""

    def __init__(self, database: Database, store: ObjectStore, abandon_hours: int, interval: float = 3600.0) -> None:
        self._database = database
        self._store = store
        self._abandon_hours = abandon_hours
        self._interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sweep_abandoned_uploads(self._database, self._store, self._abandon_hours)
            except Exception:  # noqa: BLE001 - logged; the next round tries again
                log.exception("sweeping abandoned uploads failed")
            stop.wait(self._interval)
