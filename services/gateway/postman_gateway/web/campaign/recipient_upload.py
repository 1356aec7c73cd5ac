"""The upload page's file: received by the gateway in a plain form post, then handed over exactly as the API's
client does it (StartUpload, the file into the object store, CompleteUpload), so the campaign service checks and
stores it the same way whichever door it came through.

Why the page posts the file to the gateway rather than the browser PUTting it to the presigned URL: the pages'
Content-Security-Policy allows requests to this origin only (``connect-src 'self'``), an S3 URL is another origin,
and a form post works without any script. The script on the page only adds a progress bar to the same post.

The file goes to the store with the store's own rules: for the local store it is written as the presigned PUT
would write it (``uploads.store_upload``: atomic, MD5 checked, MAX_UPLOAD_BYTES); for S3 it is PUT to the
presigned URL with the signed headers, so S3 checks its MD5.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import urlsplit

from flask import current_app

from postman.v1 import campaign_pb2
from postman_gateway.api import uploads
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_shared.grpc import client
from postman_shared.grpc.errors import InvalidArgument, ServiceError

MIME_TYPE = "text/csv"  # what the file is declared as; its content is checked by the campaign service anyway
CHUNK_BYTES = 1024 * 1024
S3_PUT_TIMEOUT_SECONDS = 300.0


def measure(stream: IO[bytes]) -> tuple[str, int]:
    """The stream's Content-MD5 (base64) and size, read in chunks; the stream is left at its start."""
    digest = hashlib.md5(usedforsecurity=False)  # an integrity check of the transfer, as S3's Content-MD5
    size = 0
    stream.seek(0)
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return base64.b64encode(digest.digest()).decode(), size


def _put(url: str, stream: IO[bytes], md5: str, size: int) -> str:
    """Puts the file where the presigned URL says; returns its ETag (empty when the store gives none)."""
    if uploads.EXTENSION in current_app.extensions:  # the local store, served by this gateway
        key = PurePosixPath(urlsplit(url).path).name
        return uploads.store_upload(key, stream, expected_md5=md5)
    if urlsplit(url).scheme not in ("https", "http"):  # S3's presigned URL (http only for a local S3 stand-in)
        raise ServiceError(ErrorCode.INTERNAL_SERVER,
                           "The object store gave an upload address that is not a web address")
    request = urllib.request.Request(url, data=stream, method="PUT", headers={  # noqa: S310 - scheme checked
        "Content-Type": MIME_TYPE, "Content-MD5": md5, "Content-Length": str(size)})
    try:
        with urllib.request.urlopen(request, timeout=S3_PUT_TIMEOUT_SECONDS) as response:  # noqa: S310
            return str(response.headers.get("ETag", "")).strip('"')
    except OSError as exc:  # URLError and HTTPError are OSErrors: the store refused or could not be reached
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE,
                           "The file could not be stored; try uploading it again") from exc


def upload(campaign: campaign_pb2.Campaign, user_id: int, stream: IO[bytes], filename: str,
           max_bytes: int) -> None:
    """Hands the file to the campaign service, which checks it in the background (follow it with GetUploadStatus).
    Raises InvalidArgument, about the file, for an empty or too large file."""
    md5, size = measure(stream)
    if size == 0:
        raise InvalidArgument(f"{filename} is empty: choose a file with a header row and one row per recipient")
    if size > max_bytes:
        raise InvalidArgument(f"{filename} is {size:,} bytes; files of at most {max_bytes:,} bytes are accepted")
    started = client.call(backends().campaign.StartUpload, campaign_pb2.StartUploadRequest(
        campaign_id=campaign.id, user_id=user_id, channel=campaign.type, mime_type=MIME_TYPE, md5=md5))
    etag = _put(started.presigned_url, stream, md5, size)
    client.call(backends().campaign.CompleteUpload, campaign_pb2.CompleteUploadRequest(
        campaign_id=campaign.id, user_id=user_id, channel=campaign.type, transaction_id=started.transaction_id,
        filename=filename, etag=etag))
