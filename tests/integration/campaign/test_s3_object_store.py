"""The S3 object store with the real boto3 client, against moto's S3 server speaking S3's HTTP wire protocol.

Clients upload recipient files with the presigned PUT URL from upload/start, so the URL must work for a plain HTTP
PUT carrying Content-Type and Content-MD5, exactly as the API contract tells callers to send it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from sqlalchemy import func, select

from postman_campaign.models import Campaign, Recipient, Upload
from postman_campaign.recipients_store import COPY_CHUNK_ROWS
from postman_campaign.upload_worker import DONE, FAILED, MISSING_FILE, process_upload
from postman_shared.object_store import S3ObjectStore, object_store_from_settings
from tests.conftest import TESTDATA
from tests.integration.campaign.support import CampaignApi
from tests.support.aws import local_aws
from tests.support.inprocess import running

REGION = "ap-southeast-1"


@dataclass(frozen=True)
class LocalS3:
    endpoint_url: str
    bucket: str
    client: object  # a boto3 S3 client, to look at the bucket behind the store's back

    def store(self, ttl_seconds: int = 180) -> S3ObjectStore:
        return S3ObjectStore(self.bucket, REGION, self.endpoint_url, ttl_seconds)

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket)  # type: ignore[attr-defined]
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with local_aws() as url:
        yield url


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> LocalS3:
    """A fresh bucket on the local S3 server, with credentials in the standard AWS_* variables (as in production)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = boto3.client("s3", region_name=REGION, endpoint_url=s3_server)
    bucket = f"postman-uploads-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return LocalS3(s3_server, bucket, client)


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def put(url: str, body: bytes, md5: str, content_type: str = "text/csv") -> requests.Response:
    """What an API client does with the presigned URL from upload/start."""
    return requests.put(url, data=body, headers={"Content-Type": content_type, "Content-MD5": md5}, timeout=10)


# -- the store on its own --------------------------------------------------------------------------------------------


def test_presigned_url_accepts_a_put_with_content_type_and_content_md5(s3):
    store = s3.store()
    body = (TESTDATA / "email_basic.csv").read_bytes()
    url = store.presign_put("campaign-1-a.csv", "text/csv", content_md5(body))

    response = put(url, body, content_md5(body))

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', "the ETag the client keeps"
    stored = s3.client.get_object(Bucket=s3.bucket, Key="campaign-1-a.csv")
    assert stored["Body"].read() == body and stored["ContentType"] == "text/csv"


def test_presigned_url_is_sigv4_and_signs_content_type_and_content_md5(s3):
    # Real S3 refuses a PUT whose Content-Type or Content-MD5 header differs from the signed one
    # (SignatureDoesNotMatch), and one whose body does not match its Content-MD5 (BadDigest). moto checks neither
    # for SigV4 URLs, so what can be checked here is that both headers are part of the signature.
    url = s3.store(ttl_seconds=180).presign_put("campaign-1-b.csv", "text/csv", content_md5(b"x"))

    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"], "S3 refuses SigV2 URLs for new buckets"
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-md5", "content-type", "host"}
    assert query["X-Amz-Expires"] == ["180"]


def test_without_an_md5_only_the_content_type_is_signed(s3):
    url = s3.store().presign_put("campaign-1-c.csv", "text/csv", "")

    signed = parse_qs(urlparse(url).query)["X-Amz-SignedHeaders"][0].split(";")

    assert "content-type" in signed and "content-md5" not in signed
    assert requests.put(url, data=b"recipient\n", headers={"Content-Type": "text/csv"}, timeout=10).status_code == 200


def test_moto_does_not_verify_content_md5_against_the_body(s3):
    # Recorded so nobody relies on this server for it: real S3 answers 400 BadDigest here.
    body = b"recipient\na@example.gov.sg\n"
    url = s3.store().presign_put("campaign-1-d.csv", "text/csv", content_md5(body))

    response = put(url, body + b"tampered@example.gov.sg\n", content_md5(body))

    assert response.status_code == 200


def test_open_streams_the_object_in_chunks(s3):
    store = s3.store()
    body = "".join(f"r{i}@example.gov.sg,Name {i}\n" for i in range(20_000)).encode()  # about 500 kB
    s3.client.put_object(Bucket=s3.bucket, Key="big.csv", Body=body)

    chunks = []
    stream = store.open("big.csv")
    try:
        while chunk := stream.read(64 * 1024):
            chunks.append(chunk)
    finally:
        stream.close()

    assert b"".join(chunks) == body and len(chunks) > 1


def test_size_and_delete(s3):
    store = s3.store()
    s3.client.put_object(Bucket=s3.bucket, Key="one.csv", Body=b"recipient\n")

    assert store.size("one.csv") == len(b"recipient\n")
    store.delete("one.csv")
    assert store.size("one.csv") is None and s3.keys() == []
    store.delete("one.csv")  # deleting what is gone is not an error


def test_size_of_a_missing_key_is_none(s3):
    assert s3.store().size("never-uploaded.csv") is None


def test_opening_a_missing_key_raises_file_not_found(s3):
    with pytest.raises(FileNotFoundError, match="never-uploaded.csv"):
        s3.store().open("never-uploaded.csv")


def test_access_denied_is_not_taken_for_a_missing_upload(s3):
    # A 403 means a misconfigured bucket or role; answering "not uploaded" would send the person in circles.
    deny_all = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{s3.bucket}/*"}]}
    s3.client.put_bucket_policy(Bucket=s3.bucket, Policy=json.dumps(deny_all))

    with pytest.raises(ClientError) as error:
        s3.store().size("any.csv")

    assert error.value.response["Error"]["Code"] == "403"


# -- the upload worker and the campaign service on S3 ----------------------------------------------------------------


def _processing_upload(database, key: str) -> tuple[int, int]:
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=1, name="s3 worker", type="EMAIL", recipient_keys=[])
        session.add(campaign)
        session.flush()
        upload = Upload(campaign_id=campaign.id, transaction_id=key, object_key=key, mime_type="text/csv",
                        status="PROCESSING", filename="recipients.csv")
        session.add(upload)
        session.flush()
        return campaign.id, upload.id


def _upload_row(database, upload_id: int) -> Upload:
    with database.session() as session:
        upload = session.get(Upload, upload_id)
        session.expunge(upload)
        return upload


def test_worker_streams_a_multi_chunk_file_from_s3_into_the_recipients(s3, database):
    rows = COPY_CHUNK_ROWS * 2 + 3
    key = f"campaign-s3-{secrets.token_hex(4)}.csv"
    body = ("recipient,name\n" + "".join(f"r{i}@example.gov.sg,R {i}\n" for i in range(rows))).encode()
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=body)
    campaign_id, upload_id = _processing_upload(database, key)

    assert process_upload(database, s3.store(), upload_id) == DONE

    with database.session() as session:
        stored = session.scalar(select(func.count()).select_from(Recipient)
                                .where(Recipient.campaign_id == campaign_id))
    assert stored == rows and _upload_row(database, upload_id).rows_processed == rows
    assert key not in s3.keys()


def test_worker_reports_an_object_missing_from_s3_as_such(s3, database):
    _campaign_id, upload_id = _processing_upload(database, f"campaign-s3-{secrets.token_hex(4)}.csv")

    assert process_upload(database, s3.store(), upload_id) == FAILED

    upload = _upload_row(database, upload_id)
    assert (upload.status, upload.error) == ("FAILED", MISSING_FILE)


def test_campaign_service_takes_a_recipient_file_uploaded_to_s3(settings, database, s3):
    on_s3 = dataclasses.replace(settings, object_store="s3", s3_bucket=s3.bucket, s3_endpoint_url=s3.endpoint_url,
                                s3_region=REGION)
    assert isinstance(object_store_from_settings(on_s3), S3ObjectStore)
    body = (TESTDATA / "email_basic.csv").read_bytes()
    md5 = content_md5(body)

    with running(on_s3, "auth", "campaign", "renderer"):
        api = CampaignApi(on_s3)
        campaign_id = api.create()
        api.save_template(campaign_id)
        started = api.call("StartUpload", campaign_id=campaign_id, mime_type="text/csv", md5=md5)
        key = urlparse(started.presigned_url).path.rsplit("/", 1)[1]
        assert urlparse(started.presigned_url).path == f"/{s3.bucket}/{key}", "a URL on the S3 endpoint"

        response = put(started.presigned_url, body, md5)
        assert response.status_code == 200, response.text
        assert s3.keys() == [key]

        api.call("CompleteUpload", campaign_id=campaign_id, transaction_id=started.transaction_id,
                 filename="email_basic.csv")
        status = api.wait_processed(campaign_id)

    assert status.csv_error == "" and status.csv_filename == "email_basic.csv"
    assert status.num_recipients == 5 and status.rows_processed == 5
    assert status.HasField("preview") and "Tan Ah Kow" in status.preview.body
    with database.session() as session:
        recipients = list(session.scalars(select(Recipient.recipient).where(Recipient.campaign_id == campaign_id)
                                          .order_by(Recipient.line)))
    assert recipients == [f"officer{i}@example.gov.sg" for i in range(5)]
    assert s3.keys() == [], "the campaign service deletes a processed upload from the bucket"
    assert not on_s3.upload_dir.exists() or not list(on_s3.upload_dir.iterdir()), "nothing went to the local store"


# -- a password-protected campaign's multipart upload (protect/upload/start and complete) ---------------------------

def test_protected_files_upload_in_parts_to_s3_and_are_joined_by_their_etags(s3):
    store = s3.store()
    first, second = b"recipient,payload,passwordhash,id\n" + b"x" * (5 * 1024 * 1024), b"last part\n"
    upload_id, urls = store.presign_parts("campaign-1-protected.csv", "text/csv", 2)
    assert len(urls) == 2 and all(parse_qs(urlparse(u).query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
                                  for u in urls)
    etags = []
    for url, body in zip(urls, (first, second), strict=True):  # the client PUTs each part, keeping its ETag
        answered = requests.put(url, data=body, timeout=30)
        assert answered.status_code == 200, answered.text
        etags.append(answered.headers["ETag"])

    store.complete_parts("campaign-1-protected.csv", upload_id, etags)

    assert store.open("campaign-1-protected.csv").read() == first + second


def test_a_wrong_part_etag_is_refused_in_words(s3):
    from postman_shared.object_store import PartsRefused

    store = s3.store()
    upload_id, [url] = store.presign_parts("campaign-1-wrong.csv", "text/csv", 1)
    assert requests.put(url, data=b"recipient\n", timeout=10).status_code == 200
    with pytest.raises(PartsRefused, match="ETag"):
        store.complete_parts("campaign-1-wrong.csv", upload_id, ['"00000000000000000000000000000000"'])
