"""Where uploaded recipient files live: a local folder (default) or S3.

Clients upload with a presigned PUT URL, as Postman's API prescribes. For the local store the URL points at the
gateway's ``/uploads/<key>`` route and carries an expiry and an HMAC signature that the gateway verifies; for S3 it
is a real S3 presigned URL made by boto3.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlencode

from postman_shared.keys import UPLOAD_URL, purpose_key
from postman_shared.settings import Settings


class PartsRefused(ValueError):
    """The parts of a multipart upload cannot be joined; the message says why, for the person uploading."""


class ObjectStore(Protocol):
    def presign_put(self, key: str, mime_type: str, md5: str) -> str: ...

    def presign_parts(self, key: str, mime_type: str, part_count: int) -> tuple[str, list[str]]:
        """Starts a multipart upload of ``key``: (its upload id, one presigned PUT URL per part, in order)."""
        ...

    def complete_parts(self, key: str, multipart_id: str, etags: list[str]) -> None:
        """Joins the parts (each checked against its ETag) into ``key``; PartsRefused when they do not fit."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object, read lazily."""
        ...

    def size(self, key: str) -> int | None: ...

    def delete(self, key: str) -> None: ...


def upload_signature(signing_key: str, key: str, expires: int, content_md5: str) -> str:
    message = f"PUT\n{key}\n{expires}\n{content_md5}".encode()
    # The key of upload URLs derived from UPLOAD_SIGNING_KEY (``keys.UPLOAD_URL``): no other use shares it.
    return hmac.new(purpose_key(signing_key, UPLOAD_URL), message, hashlib.sha256).hexdigest()


def verify_upload_signature(signing_key: str, key: str, expires: str, content_md5: str, signature: str,
                            now: float | None = None) -> str | None:
    """None when the signed URL is valid, else the reason it is not."""
    try:
        expiry = int(expires)
    except ValueError:
        return "the upload URL is malformed"
    if (now or time.time()) > expiry:
        return "the upload URL has expired; start the upload again"
    expected = upload_signature(signing_key, key, expiry, content_md5)
    if not hmac.compare_digest(expected, signature):
        return "the upload URL signature does not match (was the URL or the Content-MD5 changed?)"
    return None


class LocalObjectStore:
    def __init__(self, root: Path, public_url: str, signing_key: str, ttl_seconds: int) -> None:
        self.root = root
        self._public_url = public_url.rstrip("/")
        self._signing_key = signing_key
        self._ttl = ttl_seconds

    def path(self, key: str) -> Path:
        if "/" in key or key.startswith(".") or not key:
            raise ValueError(f"invalid object key {key!r}")
        return self.root / key

    def presign_put(self, key: str, mime_type: str, md5: str) -> str:
        expires = int(time.time()) + self._ttl
        signature = upload_signature(self._signing_key, key, expires, md5)
        query = urlencode({"expires": expires, "md5": md5, "signature": signature})
        return f"{self._public_url}/uploads/{key}?{query}"

    def presign_parts(self, key: str, mime_type: str, part_count: int) -> tuple[str, list[str]]:
        return "local", [self.presign_put(part_key(key, number), mime_type, "")
                         for number in range(1, part_count + 1)]

    def complete_parts(self, key: str, multipart_id: str, etags: list[str]) -> None:
        """Each part's MD5 (the ETag its PUT answered) must be the one given; the joined file appears atomically."""
        parts = [self.path(part_key(key, number)) for number in range(1, len(etags) + 1)]
        for number, (part, etag) in enumerate(zip(parts, etags, strict=True), start=1):
            if not part.exists():
                raise PartsRefused(f"part {number} was not uploaded to its presigned URL")
            if _md5_of(part) != etag.strip().strip('"').lower():
                raise PartsRefused(f"part {number}'s ETag is not the one its upload answered: upload it again")
        destination = self.path(key)
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".join-", delete=False) as joined:
            try:
                for part in parts:
                    with part.open("rb") as source:
                        while chunk := source.read(1024 * 1024):
                            joined.write(chunk)
                joined.flush()
                os.fsync(joined.fileno())
            except BaseException:
                joined.close()
                Path(joined.name).unlink(missing_ok=True)
                raise
        Path(joined.name).replace(destination)
        for part in parts:
            part.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def size(self, key: str) -> int | None:
        p = self.path(key)
        return p.stat().st_size if p.exists() else None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def sweep(self, older_than: float, keep: Collection[str] = ()) -> list[str]:
        """Deletes every file last written before ``older_than`` (a Unix time) except the objects in ``keep`` (and
        their parts): abandoned uploads, parts never joined, and the temporary files of writes that died. A file
        written since is left alone, so an upload in progress is never cut. Returns the names deleted."""
        kept = set(keep)
        deleted = []
        for entry in self.root.iterdir() if self.root.is_dir() else ():
            if entry.name in kept or entry.name.partition(".part")[0] in kept:
                continue
            try:
                if entry.is_file() and entry.stat().st_mtime < older_than:
                    entry.unlink()
                    deleted.append(entry.name)
            except FileNotFoundError:  # deleted meanwhile (renamed into place, or by another sweep)
                continue
        return deleted


# What S3 answers for a key that does not exist: HEAD has no body, so only the status code; GET says NoSuchKey.
_MISSING_KEY_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _is_missing_key(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) in _MISSING_KEY_CODES


class S3ObjectStore:
    def __init__(self, bucket: str, region: str, endpoint_url: str, ttl_seconds: int) -> None:
        import boto3
        from botocore.config import Config

        self._bucket = bucket
        self._ttl = ttl_seconds
        # botocore presigns S3 URLs with Signature Version 2 unless told otherwise; S3 refuses SigV2 for buckets
        # made since mid-2020 and in every newer region, so the URL the API hands out would not work.
        self._client = boto3.client("s3", region_name=region, endpoint_url=endpoint_url or None,
                                    config=Config(signature_version="s3v4"))

    def presign_put(self, key: str, mime_type: str, md5: str) -> str:
        """A URL that accepts one PUT of the object; Content-Type (and Content-MD5 when given) are signed, so the
        client must send exactly these headers and S3 rejects a body whose MD5 differs."""
        params = {"Bucket": self._bucket, "Key": key, "ContentType": mime_type}
        if md5:
            params["ContentMD5"] = md5
        return str(self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=self._ttl))

    def presign_parts(self, key: str, mime_type: str, part_count: int) -> tuple[str, list[str]]:
        started = self._client.create_multipart_upload(Bucket=self._bucket, Key=key, ContentType=mime_type)
        upload_id = str(started["UploadId"])
        urls = [str(self._client.generate_presigned_url(
            "upload_part", Params={"Bucket": self._bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=self._ttl)) for number in range(1, part_count + 1)]
        return upload_id, urls

    def complete_parts(self, key: str, multipart_id: str, etags: list[str]) -> None:
        from botocore.exceptions import ClientError

        parts = [{"ETag": etag if etag.startswith('"') else f'"{etag}"', "PartNumber": number}
                 for number, etag in enumerate(etags, start=1)]
        try:
            self._client.complete_multipart_upload(Bucket=self._bucket, Key=key, UploadId=multipart_id,
                                                   MultipartUpload={"Parts": parts})
        except ClientError as error:
            code = str((getattr(error, "response", None) or {}).get("Error", {}).get("Code", ""))
            if code in ("InvalidPart", "InvalidPartOrder", "NoSuchUpload", "EntityTooSmall"):
                raise PartsRefused({
                    "InvalidPart": "a part is missing or its ETag is not the one its upload answered",
                    "InvalidPartOrder": "the ETags are not in the order of the parts",
                    "NoSuchUpload": "this upload is unknown to the store (expired or already completed)",
                    "EntityTooSmall": "every part but the last must be at least 5 MB",
                }[code]) from error
            raise

    def open(self, key: str) -> BinaryIO:
        """The object's body, streamed from S3; FileNotFoundError when the key does not exist."""
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _is_missing_key(error):
                raise FileNotFoundError(f"s3://{self._bucket}/{key} does not exist") from error
            raise
        return response["Body"]  # type: ignore[no-any-return]

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist. Other S3 errors (access denied, no such
        bucket) are raised: they are a configuration problem, not a missing upload."""
        from botocore.exceptions import ClientError

        try:
            return int(self._client.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
        except ClientError as error:
            if _is_missing_key(error):
                return None
            raise

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)  # S3 answers 204 for a missing key too


def part_key(key: str, number: int) -> str:
    return f"{key}.part{number}"


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # S3's ETag of a part: an integrity check, not security
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def object_store_from_settings(settings: Settings) -> ObjectStore:
    if settings.object_store == "s3":
        return S3ObjectStore(settings.s3_bucket, settings.s3_region, settings.s3_endpoint_url,
                             settings.upload_url_ttl)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    return LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key,
                            settings.upload_url_ttl)
