"""Recipient file uploads: start (a presigned URL), complete (hand the file to a worker), and status.

An upload moves STARTED -> PROCESSING -> DONE | FAILED (-> CLEARED once its error is dismissed). The committed
recipient list belongs to the campaign, and only a DONE upload ever replaces it, so a failed upload leaves the
previous list intact.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postman_campaign.campaigns import ensure_channel, ensure_not_sent, owned_campaign
from postman_campaign.models import Campaign, Upload
from postman_campaign.previews import EmailPreview, PreviewSource, SmsPreview, preview_source, render
from postman_campaign.renderer_client import Renderer
from postman_campaign.statuses import UploadStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, ServiceError
from postman_shared.logging import get_logger
from postman_shared.object_store import ObjectStore, PartsRefused
from postman_shared.timestamps import utcnow

# The upload statuses by their short names, as the upload modules and their tests say them (``statuses.py``).
STARTED, PROCESSING, DONE = UploadStatus.STARTED, UploadStatus.PROCESSING, UploadStatus.DONE
FAILED, CLEARED, ABANDONED = UploadStatus.FAILED, UploadStatus.CLEARED, UploadStatus.ABANDONED
CSV_MIME_TYPES = ("text/csv", "application/vnd.ms-excel", "text/plain")
# A recipient list may also be a spreadsheet or a tab-separated file (an extension of Postman's API); the worker
# tells the kind by the file's content and name (``recipient_file``), whatever type the client declared.
SPREADSHEET_MIME_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          "application/vnd.oasis.opendocument.spreadsheet", "text/tab-separated-values")
RECIPIENT_FILE_MIME_TYPES = CSV_MIME_TYPES + SPREADSHEET_MIME_TYPES
MAX_FILENAME_LENGTH = 255

log = get_logger(component="uploads")


@dataclass(frozen=True)
class StartedUpload:
    presigned_url: str
    transaction_id: str


@dataclass(frozen=True)
class UploadStatusView:
    is_csv_processing: bool
    csv_filename: str
    temp_csv_filename: str
    csv_error: str
    num_recipients: int
    rows_processed: int
    preview: EmailPreview | SmsPreview | None  # of the campaign's channel


def start_upload(database: Database, store: ObjectStore, campaign_id: int, user_id: int, mime_type: str,
                 md5: str, channel: str = "") -> StartedUpload:
    media_type = mime_type.split(";", 1)[0].strip().lower()
    with database.unit_of_work() as session:
        _owned_of_channel(session, campaign_id, user_id, channel)
        ensure_not_sent(session, campaign_id)
        if media_type not in RECIPIENT_FILE_MIME_TYPES:
            raise InvalidArgument(f"mime_type {mime_type!r} is not accepted: upload a CSV file, a spreadsheet "
                                  f"(.xlsx, .ods) or a tab-separated file ({', '.join(RECIPIENT_FILE_MIME_TYPES)})")
        key = f"campaign-{campaign_id}-{uuid.uuid4().hex}.csv"
        transaction_id = uuid.uuid4().hex
        session.add(Upload(campaign_id=campaign_id, transaction_id=transaction_id, object_key=key,
                           mime_type=media_type, md5=md5 or None, status=STARTED))
    # Signed with the client's own mime_type: the contract has it send exactly that as Content-Type on the PUT.
    url = store.presign_put(key, mime_type.strip(), md5)
    log.info("upload started", campaign_id=campaign_id, object_key=key)
    return StartedUpload(presigned_url=url, transaction_id=transaction_id)


def complete_upload(database: Database, store: ObjectStore, process: Callable[[int], None], campaign_id: int,
                    user_id: int, transaction_id: str, filename: str, max_bytes: int, channel: str = "") -> None:
    """Marks the upload PROCESSING and hands it to ``process`` (a background worker); returns at once."""
    filename = os.path.basename(filename.replace("\\", "/")).strip()[:MAX_FILENAME_LENGTH]
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        _owned_of_channel(session, campaign_id, user_id, channel)
        upload = _upload_of(session, campaign_id, transaction_id)
    if not filename:
        raise InvalidArgument("filename is required", code=ErrorCode.API_VALIDATION)
    if upload.status == PROCESSING:
        return  # a retried call: the file is already being processed
    if upload.status == ABANDONED:
        raise InvalidArgument("This upload was not completed in time and its file was deleted; start a new upload")
    if upload.status != STARTED:
        raise InvalidArgument("This upload was already completed; start a new upload")
    size = store.size(upload.object_key)  # outside the transaction: it may be a network call (S3)
    if size is None:
        raise InvalidArgument("The file was not uploaded to the presigned URL; upload it there, then complete "
                              "the upload")
    if size > max_bytes:
        # A presigned PUT cannot bound its size (the contract's upload/start gives none to sign), so this is where
        # an oversized file stops: deleted at once rather than left to the abandoned-upload sweep.
        store.delete(upload.object_key)
        raise InvalidArgument(f"The file is {size} bytes; files of at most {max_bytes} bytes are accepted")
    with database.unit_of_work() as session:
        owned_campaign(session, campaign_id, user_id, lock=True)
        ensure_not_sent(session, campaign_id)
        upload = _upload_of(session, campaign_id, transaction_id)
        if upload.status != STARTED:
            return  # a concurrent call completed it first
        upload.status = PROCESSING
        upload.filename = filename
        upload.updated_at = utcnow()
    log.info("upload completed, processing", campaign_id=campaign_id, upload_id=upload.id, size=size)
    process(upload.id)


MAX_PARTS = 100


def start_protected_upload(database: Database, store: ObjectStore, campaign_id: int, user_id: int, mime_type: str,
                           part_count: int) -> tuple[str, list[str]]:
    """A password-protected campaign's multipart upload (Postman's protect/upload/start): (transaction id, one
    presigned URL per part)."""
    media_type = mime_type.split(";", 1)[0].strip().lower()
    with database.unit_of_work() as session:
        campaign = _owned_of_channel(session, campaign_id, user_id, "EMAIL")
        if not campaign.protect:
            raise InvalidArgument("This campaign is not password-protected: upload its recipients with "
                                  "upload/start instead")
        ensure_not_sent(session, campaign_id)
        if media_type not in CSV_MIME_TYPES:
            raise InvalidArgument(f"mime_type {mime_type!r} is not accepted: upload a CSV file "
                                  f"({', '.join(CSV_MIME_TYPES)})")
        if not 1 <= part_count <= MAX_PARTS:
            raise InvalidArgument(f"part_count must be from 1 to {MAX_PARTS}", code=ErrorCode.API_VALIDATION)
    key = f"campaign-{campaign_id}-{uuid.uuid4().hex}.csv"
    multipart_id, urls = store.presign_parts(key, mime_type.strip(), part_count)  # outside the transaction
    transaction_id = uuid.uuid4().hex
    with database.unit_of_work() as session:
        session.add(Upload(campaign_id=campaign_id, transaction_id=transaction_id, object_key=key,
                           mime_type=media_type, status=STARTED, multipart_id=multipart_id, part_count=part_count))
    log.info("protected upload started", campaign_id=campaign_id, object_key=key, parts=part_count)
    return transaction_id, urls


def complete_protected_upload(database: Database, store: ObjectStore, process: Callable[[int], None],
                              campaign_id: int, user_id: int, transaction_id: str, filename: str, part_count: int,
                              etags: list[str], max_bytes: int) -> None:
    """Joins the parts, then hands the file over like ``complete_upload``."""
    with database.unit_of_work() as session:
        _owned_of_channel(session, campaign_id, user_id, "EMAIL")
        upload = _upload_of(session, campaign_id, transaction_id)
    if upload.multipart_id is None:
        raise InvalidArgument("This transaction_id is not a protected upload: complete it with upload/complete")
    if upload.status == PROCESSING:
        return  # a retried call
    if upload.status != STARTED:
        raise InvalidArgument("This upload was already completed; start a new upload")
    if part_count != upload.part_count or len(etags) != part_count:
        raise InvalidArgument(f"This upload has {upload.part_count} part(s): send part_count {upload.part_count} "
                              f"and one ETag per part, in order (got part_count {part_count} and "
                              f"{len(etags)} ETag(s))", code=ErrorCode.API_VALIDATION)
    if store.size(upload.object_key) is None:  # a retried call may find the parts already joined
        try:
            store.complete_parts(upload.object_key, upload.multipart_id, etags)
        except PartsRefused as exc:
            raise InvalidArgument(f"The upload cannot be completed: {exc}") from None
    complete_upload(database, store, process, campaign_id, user_id, transaction_id, filename, max_bytes, "EMAIL")


def clear_upload_error(database: Database, campaign_id: int, user_id: int, channel: str = "") -> None:
    """Clears the error of the campaign's failed uploads (FAILED -> CLEARED): the status stops reporting it. The
    committed recipient list is not touched."""
    with database.unit_of_work() as session:
        _owned_of_channel(session, campaign_id, user_id, channel)
        cleared = session.execute(update(Upload).where(Upload.campaign_id == campaign_id, Upload.status == FAILED)
                                  .values(status=CLEARED, updated_at=utcnow())).rowcount
    log.info("upload error cleared", campaign_id=campaign_id, uploads=cleared)


def _owned_of_channel(session: Session, campaign_id: int, user_id: int, channel: str) -> Campaign:
    """The caller's campaign; when the call names a channel (``/sms/upload/...``), it must be that channel's."""
    campaign = owned_campaign(session, campaign_id, user_id)
    if channel:
        ensure_channel(campaign, channel.upper())
    return campaign


def _upload_of(session: Session, campaign_id: int, transaction_id: str) -> Upload:
    upload = session.scalars(select(Upload).where(
        Upload.transaction_id == transaction_id, Upload.campaign_id == campaign_id)).one_or_none()
    if upload is None:
        raise InvalidArgument("Unknown transaction_id: start the upload first")
    return upload


def upload_status(database: Database, renderer: Renderer, campaign_id: int, user_id: int,
                  channel: str = "") -> UploadStatusView:
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        # One snapshot for every read below: the worker commits the campaign's counts and the upload's DONE
        # together, and reading them at two moments could show "not processing" with the old counts.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        campaign = _owned_of_channel(session, campaign_id, user_id, channel)
        processing = session.scalars(select(Upload).where(
            Upload.campaign_id == campaign_id, Upload.status == PROCESSING).order_by(Upload.id.desc()).limit(1)
        ).first()
        finished = session.scalars(select(Upload).where(
            Upload.campaign_id == campaign_id, Upload.status.in_((DONE, FAILED)))
            .order_by(Upload.updated_at.desc(), Upload.id.desc()).limit(1)
        ).first()
        source = preview_source(session, campaign) if campaign.num_recipients else None
    failed = finished if finished is not None and finished.status == FAILED else None
    shown = processing or failed
    return UploadStatusView(
        is_csv_processing=processing is not None,
        csv_filename=campaign.csv_filename or "",
        temp_csv_filename=(shown.filename or "") if shown else "",
        csv_error=(failed.error or "") if failed else "",
        num_recipients=campaign.num_recipients,
        rows_processed=(processing or finished).rows_processed if (processing or finished) else 0,
        preview=_preview_or_none(renderer, source, campaign_id),
    )


def _preview_or_none(renderer: Renderer, source: PreviewSource | None,
                     campaign_id: int) -> EmailPreview | SmsPreview | None:
    if source is None:
        return None
    try:
        return render(renderer, source)
    except ServiceError as exc:
        # Status polling must keep working when a preview cannot be made; the preview endpoint reports why.
        log.warning("preview failed", campaign_id=campaign_id, error=exc.message)
        return None
