"""Uploads cannot fill the object store (issue 13): an upload never completed is deleted after
UPLOAD_ABANDON_HOURS (its row says so, and completing it afterwards says why it cannot be), the local store is swept of
every other leftover file, and a file over MAX_UPLOAD_BYTES is deleted when its completion is refused. Against the
local store and moto's S3 (the real boto3 client)."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta

import boto3
import pytest
from sqlalchemy import update

from postman_campaign.models import Campaign, Upload
from postman_campaign.upload_sweeper import sweep_abandoned_uploads
from postman_campaign.uploads import ABANDONED, STARTED, complete_upload
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.object_store import LocalObjectStore, S3ObjectStore, part_key
from postman_shared.timestamps import utcnow
from tests.support.aws import local_aws

REGION = "ap-southeast-1"
DAY = 24 * 3600


def _started_upload(database, key: str, hours_ago: float, part_count: int | None = None) -> tuple[int, int, str]:
    """(campaign id, upload id, transaction id) of an upload STARTED ``hours_ago`` hours ago."""
    transaction_id = secrets.token_hex(8)
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=1, name="abandoned upload", type="EMAIL", recipient_keys=[])
        session.add(campaign)
        session.flush()
        upload = Upload(campaign_id=campaign.id, transaction_id=transaction_id, object_key=key,
                        mime_type="text/csv", status=STARTED, part_count=part_count,
                        multipart_id="local" if part_count else None)
        session.add(upload)
        session.flush()
        session.execute(update(Upload).where(Upload.id == upload.id)
                        .values(created_at=utcnow() - timedelta(hours=hours_ago)))
        return campaign.id, upload.id, transaction_id


def _status(database, upload_id: int) -> str:
    with database.session() as session:
        return session.get(Upload, upload_id).status  # type: ignore[union-attr]


def _local_store(settings) -> LocalObjectStore:
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    return LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key, 60)


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_an_upload_never_completed_is_deleted_and_completing_it_later_says_why(settings, database):
    store = _local_store(settings)
    old_key, fresh_key = (f"campaign-{secrets.token_hex(4)}.csv" for _ in range(2))
    campaign_id, old_id, transaction_id = _started_upload(database, old_key, hours_ago=25)
    _, fresh_id, _ = _started_upload(database, fresh_key, hours_ago=1)
    for key in (old_key, fresh_key):
        (settings.upload_dir / key).write_bytes(b"recipient\nsomeone@example.gov.sg\n")
    _age(settings.upload_dir / old_key, 25 * 3600)

    sweep_abandoned_uploads(database, store, abandon_hours=24)

    assert not (settings.upload_dir / old_key).exists()
    assert (settings.upload_dir / fresh_key).exists(), "an upload within its time is left alone"
    assert (_status(database, old_id), _status(database, fresh_id)) == (ABANDONED, STARTED)
    with pytest.raises(InvalidArgument, match="not completed in time"):
        complete_upload(database, store, lambda _id: None, campaign_id, 1, transaction_id, "people.csv",
                        max_bytes=1024)


def test_the_parts_of_an_abandoned_protected_upload_are_deleted_too(settings, database):
    store = _local_store(settings)
    key = f"campaign-{secrets.token_hex(4)}.csv"
    _, upload_id, _ = _started_upload(database, key, hours_ago=30, part_count=3)
    for number in (1, 2):  # the third part never came
        (settings.upload_dir / part_key(key, number)).write_bytes(b"part")

    sweep_abandoned_uploads(database, store, abandon_hours=24)

    assert list(settings.upload_dir.iterdir()) == []
    assert _status(database, upload_id) == ABANDONED


def test_the_local_store_is_swept_of_old_leftovers_but_not_of_files_in_use(settings, database):
    store = _local_store(settings)
    in_use = f"campaign-{secrets.token_hex(4)}.csv"
    _started_upload(database, in_use, hours_ago=2)  # started 2 hours ago; its file is older still (a clock skew)
    names = {
        ".upload-dead": DAY * 2,  # the temporary file of a PUT whose process died
        "campaign-0-orphan.csv": DAY * 2,  # its row went with its campaign
        "campaign-0-orphan.csv.part1": DAY * 2,
        "campaign-0-recent.csv": 60,  # being written or just written: not old enough
        in_use: DAY * 2,
    }
    for name, age in names.items():
        (settings.upload_dir / name).write_bytes(b"x")
        _age(settings.upload_dir / name, age)

    sweep_abandoned_uploads(database, store, abandon_hours=24)

    assert sorted(p.name for p in settings.upload_dir.iterdir()) == sorted(["campaign-0-recent.csv", in_use])


def test_a_file_over_the_limit_is_deleted_when_its_completion_is_refused(settings, database):
    store = _local_store(settings)
    key = f"campaign-{secrets.token_hex(4)}.csv"
    campaign_id, _, transaction_id = _started_upload(database, key, hours_ago=0)
    (settings.upload_dir / key).write_bytes(b"x" * 2048)

    with pytest.raises(InvalidArgument, match="at most 1024 bytes"):
        complete_upload(database, store, lambda _id: None, campaign_id, 1, transaction_id, "big.csv",
                        max_bytes=1024)

    assert not (settings.upload_dir / key).exists()


@pytest.fixture(scope="module")
def s3_server():
    with local_aws() as url:
        yield url


@pytest.fixture
def s3(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", region_name=REGION, endpoint_url=s3_server)
    bucket = f"postman-uploads-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client, bucket, S3ObjectStore(bucket, REGION, s3_server, 180)


def test_on_s3_an_abandoned_upload_is_deleted_and_an_oversized_one_too(s3, database):
    client, bucket, store = s3
    abandoned, oversized = (f"campaign-{secrets.token_hex(4)}.csv" for _ in range(2))
    _, abandoned_id, _ = _started_upload(database, abandoned, hours_ago=48)
    campaign_id, _, transaction_id = _started_upload(database, oversized, hours_ago=0)
    client.put_object(Bucket=bucket, Key=abandoned, Body=b"recipient\n")
    client.put_object(Bucket=bucket, Key=oversized, Body=b"x" * 2048)

    sweep_abandoned_uploads(database, store, abandon_hours=24)
    with pytest.raises(InvalidArgument, match="at most 1024 bytes"):
        complete_upload(database, store, lambda _id: None, campaign_id, 1, transaction_id, "big.csv",
                        max_bytes=1024)

    assert client.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert _status(database, abandoned_id) == ABANDONED
