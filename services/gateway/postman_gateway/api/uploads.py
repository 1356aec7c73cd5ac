"""``PUT /uploads/<key>``: the local object store's presigned PUT, standing in for S3 when OBJECT_STORE=local.

No API key: the URL's HMAC signature (made by the campaign service at upload start) is the credential. The body
is streamed to a temporary file next to its destination and hashed on the way, then renamed into place only if
it is complete and its MD5 is the one the client announced, so a half-written or corrupted file is never seen.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from postman_gateway.core.errors import ErrorCode
from postman_shared.grpc.errors import ServiceError
from postman_shared.object_store import LocalObjectStore, verify_upload_signature
from postman_shared.settings import Settings

EXTENSION = "postman_gateway.uploads"
CHUNK_BYTES = 1024 * 1024

blueprint = Blueprint("uploads", __name__)


def _config() -> tuple[Settings, LocalObjectStore]:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


@blueprint.put("/uploads/<key>")
def put_object(key: str) -> Response:
    settings, store = _config()
    try:
        destination = store.path(key)
    except ValueError:
        raise ServiceError(ErrorCode.NOT_FOUND, f"There is no upload {key!r}") from None
    signed_md5 = request.args.get("md5", "")
    signature = request.args.get("signature", "")
    if not signature or not request.args.get("expires"):
        raise ServiceError(ErrorCode.UNAUTHORIZED, "The upload URL is incomplete: it needs expires, md5 and signature")
    problem = verify_upload_signature(settings.upload_signing_key, key, request.args["expires"], signed_md5,
                                      signature)
    if problem:
        raise ServiceError(ErrorCode.UNAUTHORIZED, f"Upload refused: {problem}")
    sent_md5 = request.headers.get("Content-MD5")
    if sent_md5 is not None and sent_md5 != signed_md5:
        raise ServiceError(ErrorCode.UNAUTHORIZED,
                           "Upload refused: the Content-MD5 header is not the MD5 the upload URL "
                           "was signed for")
    if (request.content_length or 0) > settings.max_upload_bytes:
        raise _too_large(settings.max_upload_bytes)
    md5 = _receive(request.stream, destination, settings.max_upload_bytes, expected_md5=sent_md5 or signed_md5)
    response = Response(status=200)
    response.headers["ETag"] = f'"{md5}"'
    return response


def store_upload(key: str, stream: IO[bytes], expected_md5: str) -> str:
    """Writes a file the gateway received itself (the officers' upload page) under ``key`` of the local store, as
    the presigned PUT would (atomically, MD5 checked, within MAX_UPLOAD_BYTES); returns its MD5 in hex."""
    settings, store = _config()
    return _receive(stream, store.path(key), settings.max_upload_bytes, expected_md5=expected_md5)


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"The file is larger than the limit of {limit} bytes")


def _receive(stream: IO[bytes], destination: Path, limit: int, expected_md5: str) -> str:
    """Writes the stream to ``destination`` atomically and returns its MD5 in hex."""
    digest = hashlib.md5(usedforsecurity=False)  # an integrity check of the transfer, as S3's Content-MD5
    size = 0
    # A leading dot: object keys never start with one, so a temporary file can never be taken for an object.
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=".upload-", delete=False) as temporary:
        try:
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                digest.update(chunk)
                temporary.write(chunk)
            temporary.flush()
            os.fsync(temporary.fileno())
            received = base64.b64encode(digest.digest()).decode()
            if expected_md5 and received != expected_md5:
                raise ServiceError(ErrorCode.MALFORMED,
                                   f"The file's MD5 is {received} but Content-MD5 says {expected_md5}: "
                                   "it was changed or cut short on the way; upload it again")
        except BaseException:
            temporary.close()
            Path(temporary.name).unlink(missing_ok=True)
            raise
    Path(temporary.name).replace(destination)
    return digest.hexdigest()
