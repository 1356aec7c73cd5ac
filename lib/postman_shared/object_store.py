"""Where uploaded recipient files live: a local folder (default) or S3.

Clients upload with a presigned PUT URL, as Postman's API prescribes. For the local store the URL points at the
gateway's ``/uploads/<key>`` route and carries an expiry and an HMAC signature that the gateway verifies; for S3 it
is a real S3 presigned URL made by boto3.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlencode

from postman_shared.settings import Settings


class ObjectStore(Protocol):
    def presign_put(self, key: str, mime_type: str, md5: str) -> str: ...

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object, read lazily."""
        ...

    def size(self, key: str) -> int | None: ...

    def delete(self, key: str) -> None: ...


def upload_signature(signing_key: str, key: str, expires: int, content_md5: str) -> str:
    message = f"PUT\n{key}\n{expires}\n{content_md5}".encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()


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

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def size(self, key: str) -> int | None:
        p = self.path(key)
        return p.stat().st_size if p.exists() else None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class S3ObjectStore:
    def __init__(self, bucket: str, region: str, endpoint_url: str, ttl_seconds: int) -> None:
        import boto3

        self._bucket = bucket
        self._ttl = ttl_seconds
        self._client = boto3.client("s3", region_name=region, endpoint_url=endpoint_url or None)

    def presign_put(self, key: str, mime_type: str, md5: str) -> str:
        params = {"Bucket": self._bucket, "Key": key, "ContentType": mime_type}
        if md5:
            params["ContentMD5"] = md5
        return str(self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=self._ttl))

    def open(self, key: str) -> BinaryIO:
        return self._client.get_object(Bucket=self._bucket, Key=key)["Body"]  # type: ignore[no-any-return]

    def size(self, key: str) -> int | None:
        try:
            return int(self._client.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
        except self._client.exceptions.ClientError:
            return None

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)


def object_store_from_settings(settings: Settings) -> ObjectStore:
    if settings.object_store == "s3":
        return S3ObjectStore(settings.s3_bucket, settings.s3_region, settings.s3_endpoint_url,
                             settings.upload_url_ttl)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    return LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key,
                            settings.upload_url_ttl)
