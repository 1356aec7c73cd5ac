"""The local object store's presigned PUT: the signature is the credential, the MD5 guards the content."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from postman_gateway.app import create_app
from postman_shared.object_store import LocalObjectStore, upload_signature
from tests.integration.gateway.conftest import content_md5, local_path

CSV = b"recipient,name\na@example.gov.sg,A\n"


def presigned(settings, key="upload-1", md5=None):
    store = LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key,
                             settings.upload_url_ttl)
    return local_path(store.presign_put(key, "text/csv", content_md5(CSV) if md5 is None else md5))


def stored(settings, key="upload-1"):
    path = settings.upload_dir / key
    return path.read_bytes() if path.exists() else None


def leftovers(settings):
    return [p.name for p in settings.upload_dir.iterdir() if p.name.startswith(".")]


def test_a_good_upload_is_stored_and_answered_with_the_md5_etag(http, settings):
    response = http.put(presigned(settings), data=CSV, headers={"Content-MD5": content_md5(CSV)})
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{hashlib.md5(CSV).hexdigest()}"'
    assert stored(settings) == CSV


def test_without_a_content_md5_header_the_signed_md5_is_still_checked(http, settings):
    response = http.put(presigned(settings), data=CSV + b"b@example.gov.sg,B\n")
    assert response.status_code == 400
    assert stored(settings) is None


def test_a_tampered_signature_is_403(http, settings):
    url = presigned(settings).replace("signature=", "signature=0")
    response = http.put(url, data=CSV, headers={"Content-MD5": content_md5(CSV)})
    assert response.status_code == 403
    assert response.json["code"] == "unauthorized"
    assert "signature" in response.json["message"]
    assert stored(settings) is None


def test_a_url_for_another_key_is_403(http, settings):
    url = presigned(settings, key="upload-1").replace("/uploads/upload-1", "/uploads/upload-2")
    response = http.put(url, data=CSV, headers={"Content-MD5": content_md5(CSV)})
    assert response.status_code == 403
    assert stored(settings, "upload-2") is None


def test_an_expired_url_is_403_and_says_so(http, settings):
    md5 = content_md5(CSV)
    expires = int(time.time()) - 1
    query = urlencode({"expires": expires, "md5": md5,
                       "signature": upload_signature(settings.upload_signing_key, "upload-1", expires, md5)})
    response = http.put(f"/uploads/upload-1?{query}", data=CSV, headers={"Content-MD5": md5})
    assert response.status_code == 403
    assert "expired" in response.json["message"]


def test_a_url_without_its_signature_is_403(http, settings):
    response = http.put("/uploads/upload-1", data=CSV)
    assert response.status_code == 403
    assert response.json["code"] == "unauthorized"


def test_a_content_md5_other_than_the_signed_one_is_refused(http, settings):
    other = content_md5(b"something else")
    response = http.put(presigned(settings), data=b"something else", headers={"Content-MD5": other})
    assert response.status_code == 403
    assert "Content-MD5" in response.json["message"]
    assert stored(settings) is None


def test_content_that_does_not_match_its_md5_is_400_and_nothing_is_kept(http, settings):
    response = http.put(presigned(settings), data=CSV[:-5], headers={"Content-MD5": content_md5(CSV)})
    assert response.status_code == 400
    assert response.json["code"] == "malformed"
    assert "MD5" in response.json["message"]
    assert stored(settings) is None
    assert leftovers(settings) == []


def test_a_file_over_the_size_limit_is_413(settings):
    small = replace(settings, max_upload_bytes=10)
    response = create_app(small).test_client().put(presigned(small), data=CSV,
                                                   headers={"Content-MD5": content_md5(CSV)})
    assert response.status_code == 413
    assert "10 bytes" in response.json["message"]
    assert stored(small) is None
    assert leftovers(small) == []


@pytest.mark.parametrize("key", [".hidden", "..", "a%2Fb"])
def test_keys_outside_the_store_are_refused(http, settings, key):
    response = http.put(f"/uploads/{key}?expires=9999999999&md5=x&signature=y", data=CSV)
    assert response.status_code in (403, 404)
    assert list(settings.upload_dir.iterdir()) == []


def test_a_second_upload_to_the_same_url_replaces_the_first(http, settings):
    url = presigned(settings)
    assert http.put(url, data=CSV, headers={"Content-MD5": content_md5(CSV)}).status_code == 200
    assert http.put(url, data=CSV, headers={"Content-MD5": content_md5(CSV)}).status_code == 200
    assert stored(settings) == CSV


def test_no_upload_route_when_the_object_store_is_s3(settings):
    app = create_app(replace(settings, object_store="s3"))
    assert not any(rule.rule.startswith("/uploads") for rule in app.url_map.iter_rules())
