"""Processing of completed uploads, in a small thread pool of the campaign process.

Each file is streamed through ``RecipientFile`` straight into ``COPY recipients``, in ONE transaction that also
deletes the campaign's previous recipients and sets its counts: the campaign's list is replaced whole or not at all.
Progress (``rows_processed``) is committed every ``progress_every`` rows in separate short transactions, so
``GetUploadStatus`` can report it while the big transaction is still open.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import delete, select, text, update

from postman_campaign.campaigns import has_job
from postman_campaign.models import Campaign, Recipient, Upload
from postman_campaign.previews import template_of
from postman_campaign.protected_file import ProtectedFile
from postman_campaign.protected_messages import ProtectedStorage, Spool
from postman_campaign.recipient_file import DEFAULT_PHONE_REGION, RecipientFile, RecipientFileError
from postman_campaign.recipients_store import CopyInterrupted, RecipientCopySource, copy_recipients
from postman_campaign.uploads import DONE, FAILED, PROCESSING
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.object_store import ObjectStore
from postman_shared.timestamps import utcnow

UNEXPECTED_ERROR = "We could not process the file, please try again"
MISSING_FILE = "The uploaded file could not be found; please upload it again"
# An upload at least this large refreshes the planner's statistics of `recipients` (see _refresh_statistics).
ANALYZE_AFTER_ROWS = 1_000
SKIPPED, INTERRUPTED = "SKIPPED", "INTERRUPTED"

log = get_logger(component="upload-worker")


class UploadRejected(Exception):
    """The file cannot become the campaign's recipient list; the message is for the person who uploaded it."""


def process_upload(database: Database, store: ObjectStore, upload_id: int,
                   should_stop: Callable[[], bool] | None = None, progress_every: int = 10_000,
                   phone_region: str = DEFAULT_PHONE_REGION, protected: ProtectedStorage | None = None) -> str:
    """Processes one PROCESSING upload; returns DONE, FAILED, SKIPPED (not PROCESSING any more) or INTERRUPTED.

    Recipients are read as the campaign's channel wants them: email addresses, or phone numbers in E.164 (numbers
    without a country code are read in ``phone_region``). A password-protected campaign's file is a file of
    encrypted messages (``protected_file``), stored through ``protected``."""
    with database.session() as session:
        upload = session.get(Upload, upload_id)
        if upload is None or upload.status != PROCESSING:
            return SKIPPED
        campaign = session.get(Campaign, upload.campaign_id)
        channel = campaign.type if campaign is not None else "EMAIL"
        is_protected = bool(campaign is not None and campaign.protect)
        template = template_of(session, campaign) if campaign is not None and not is_protected else None
        required_keys = list(template.params or ()) if template is not None else []
        campaign_id, key, filename = upload.campaign_id, upload.object_key, upload.filename or upload.object_key
    bound = log.bind(campaign_id=campaign_id, upload_id=upload_id)
    try:
        with contextlib.closing(store.open(key)) as stream, contextlib.closing(RecipientFile(
                stream, filename, channel, required_keys=required_keys, phone_region=phone_region)) as reader:
            if is_protected:
                storage = protected or ProtectedStorage(public_url="", retention_days=30)
                outcome = _replace_recipients(database, upload_id, campaign_id, filename,
                                              storage.reader(reader), should_stop, progress_every, storage)
            else:
                outcome = _replace_recipients(database, upload_id, campaign_id, filename, reader, should_stop,
                                              progress_every)
    except CopyInterrupted:
        bound.info("upload processing interrupted; it is processed again when the service starts")
        return INTERRUPTED
    except FileNotFoundError:
        bound.warning("uploaded object is missing", object_key=key)
        outcome = _mark_failed(database, upload_id, MISSING_FILE)
    except Exception:  # noqa: BLE001 - logged with its trace; the person sees a plain sentence
        bound.exception("upload processing failed")
        outcome = _mark_failed(database, upload_id, UNEXPECTED_ERROR)
    if outcome == DONE:
        _refresh_statistics(database, upload_id, bound)
    if outcome != SKIPPED:
        try:
            store.delete(key)
        except Exception as exc:  # noqa: BLE001 - a leftover object is harmless; the result stands
            bound.warning("could not delete the uploaded object", object_key=key, error=str(exc))
    bound.info("upload processed", outcome=outcome)
    return outcome


def _replace_recipients(database: Database, upload_id: int, campaign_id: int, filename: str,
                        reader: RecipientFile | ProtectedFile, should_stop: Callable[[], bool] | None,
                        progress_every: int, protected: ProtectedStorage | None = None) -> str:
    with database.unit_of_work() as session:
        # Serialises uploads and sends of this campaign; NO KEY UPDATE lets new uploads rows still be inserted.
        session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update(key_share=True))
        status = session.scalar(select(Upload.status).where(Upload.id == upload_id))
        if status != PROCESSING:
            return SKIPPED  # another worker finished it while this one waited for the lock
        savepoint = session.begin_nested()
        spool: Spool | None = None
        try:
            if has_job(session, campaign_id):
                raise UploadRejected("This campaign has already been sent; its recipient list cannot be changed")
            header = reader.read_header()
            session.execute(delete(Recipient).where(Recipient.campaign_id == campaign_id))
            dbapi_connection = session.connection().connection.dbapi_connection
            if isinstance(reader, ProtectedFile):
                assert protected is not None
                spool = protected.spool(session, campaign_id)
                rows = protected.recipients_of(reader, spool)
            else:
                rows = reader.rows()
            source = RecipientCopySource(
                campaign_id, rows, on_progress=lambda rows: _record_progress(database, upload_id, rows),
                progress_every=progress_every, should_stop=should_stop,
            )
            copy_recipients(dbapi_connection, source)
            if source.count == 0:
                raise UploadRejected(f"{filename} has no recipients: add at least one row below the header")
            if spool is not None:
                assert protected is not None and isinstance(reader, ProtectedFile)
                protected.store(dbapi_connection, spool, reader)
        except (RecipientFileError, UploadRejected) as exc:
            if spool is not None and protected is not None:
                protected.discard(spool)
            savepoint.rollback()  # the previous recipient list stays exactly as it was
            session.execute(update(Upload).where(Upload.id == upload_id).values(
                status=FAILED, error=str(exc), updated_at=utcnow()))
            return FAILED
        savepoint.commit()
        now = utcnow()
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(
            csv_filename=filename, recipient_keys=header, num_recipients=source.count, num_invalid=source.invalid,
            updated_at=now))
        session.execute(update(Upload).where(Upload.id == upload_id).values(
            status=DONE, error=None, rows_processed=source.count, updated_at=now))
        return DONE


def _refresh_statistics(database: Database, upload_id: int, bound: Any) -> None:
    """ANALYZE ``recipients`` after a large upload, so that the renderer's keyset pages of this campaign are planned
    on ``ix_recipients_campaign_id_id``.

    Without statistics of the rows just copied (autovacuum's analyze comes later, when it comes), the planner reads
    ``campaign_id = ? AND id > ? ORDER BY id LIMIT n`` as cheapest by the primary key, filtering every later row of
    the table: each page of a fresh campaign then scans all its remaining recipients (measured: 410,001 rows read
    for 20,000 recipients), quadratic in the campaign's size. ANALYZE samples a fixed number of rows (about 30,000),
    so it costs the same for any upload."""
    with database.session() as session:
        rows = session.scalar(select(Upload.rows_processed).where(Upload.id == upload_id)) or 0
    if rows < ANALYZE_AFTER_ROWS:
        return
    try:
        with database.engine.begin() as connection:
            connection.execute(text("ANALYZE recipients"))
    except Exception as exc:  # noqa: BLE001 - statistics are an optimisation; the upload is done either way
        bound.warning("could not refresh the recipients' statistics", error=str(exc))


def _record_progress(database: Database, upload_id: int, rows: int) -> None:
    # Its own short transaction on another connection: visible at once, and the big one never touched this row yet.
    with database.engine.begin() as connection:
        connection.execute(update(Upload).where(Upload.id == upload_id).values(rows_processed=rows))


def _mark_failed(database: Database, upload_id: int, error: str) -> str:
    with database.unit_of_work() as session:
        result = session.execute(update(Upload).where(Upload.id == upload_id, Upload.status == PROCESSING).values(
            status=FAILED, error=error, updated_at=utcnow()))
    return FAILED if result.rowcount else SKIPPED  # type: ignore[attr-defined]


class UploadWorkers:
    """A few threads that process uploads; ``run`` is the runtime loop that owns their life."""

    def __init__(self, database: Database, store: ObjectStore, threads: int = 2, progress_every: int = 10_000,
                 phone_region: str = DEFAULT_PHONE_REGION, protected: ProtectedStorage | None = None) -> None:
        self._database = database
        self._protected = protected
        self._phone_region = phone_region
        self._store = store
        self._progress_every = progress_every
        self._stopping = threading.Event()
        # ThreadPoolExecutor starts its threads on the first submit, not here.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="upload-worker")

    def submit(self, upload_id: int) -> None:
        if self._stopping.is_set():
            return  # stays PROCESSING and is picked up again at the next start
        try:
            self._executor.submit(self.process, upload_id)
        except RuntimeError:  # the pool shut down between the check and the submit: same as above
            log.info("upload left for the next start", upload_id=upload_id)

    def process(self, upload_id: int) -> str:
        return process_upload(self._database, self._store, upload_id, self._stopping.is_set, self._progress_every,
                              self._phone_region, self._protected)

    def requeue_interrupted(self) -> int:
        """Submits uploads a previous run left PROCESSING (a crash or a stop mid-file); returns how many."""
        with self._database.session() as session:
            ids = list(session.scalars(select(Upload.id).where(Upload.status == PROCESSING).order_by(Upload.id)))
        for upload_id in ids:
            self.submit(upload_id)
        if ids:
            log.info("re-queued interrupted uploads", upload_ids=ids)
        return len(ids)

    def run(self, stop: threading.Event) -> None:
        """Runtime loop: waits for the stop and drains the pool."""
        stop.wait()
        self.shutdown()

    def shutdown(self) -> None:
        self._stopping.set()  # a file being copied stops at its next chunk and rolls back
        self._executor.shutdown(wait=True, cancel_futures=True)
