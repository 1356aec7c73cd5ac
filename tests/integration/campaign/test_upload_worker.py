"""The upload worker on its own: progress visible while the big transaction is open, and a clean stop mid-file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from postman_campaign.models import Campaign, Recipient, Upload
from postman_campaign.recipients_store import COPY_CHUNK_ROWS
from postman_campaign.upload_worker import DONE, INTERRUPTED, process_upload
from postman_shared.object_store import LocalObjectStore


def _campaign_with_upload(database, store: LocalObjectStore, rows: int) -> tuple[int, int, str]:
    key = f"worker-test-{rows}-{id(store)}.csv"
    content = "recipient,name\n" + "".join(f"r{i}@example.gov.sg,R {i}\n" for i in range(rows))
    (store.root / key).write_text(content)
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=1, name="worker", type="EMAIL", recipient_keys=[])
        session.add(campaign)
        session.flush()
        upload = Upload(campaign_id=campaign.id, transaction_id=key, object_key=key, mime_type="text/csv",
                        status="PROCESSING", filename="big.csv")
        session.add(upload)
        session.flush()
        return campaign.id, upload.id, key


def _store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path, "http://localhost", "key", 60)


def _state(database, campaign_id, upload_id):
    with database.session() as session:
        upload = session.get(Upload, upload_id)
        count = session.scalar(select(func.count()).select_from(Recipient).where(Recipient.campaign_id == campaign_id))
        return upload.status, upload.rows_processed, count


def test_progress_is_visible_to_others_while_the_file_is_being_stored(database, tmp_path):
    store = _store(tmp_path)
    campaign_id, upload_id, _key = _campaign_with_upload(database, store, rows=COPY_CHUNK_ROWS * 2 + 5)
    seen = []

    def look_while_copying() -> bool:  # called by the worker before each chunk, from inside its transaction
        seen.append(_state(database, campaign_id, upload_id))
        return False

    assert process_upload(database, store, upload_id, should_stop=look_while_copying, progress_every=1000) == DONE
    assert seen[1] == ("PROCESSING", COPY_CHUNK_ROWS, 0), "progress committed, recipients not yet visible"
    assert _state(database, campaign_id, upload_id) == ("DONE", COPY_CHUNK_ROWS * 2 + 5, COPY_CHUNK_ROWS * 2 + 5)


def test_a_stop_mid_file_rolls_back_and_leaves_the_upload_for_the_next_start(database, tmp_path):
    store = _store(tmp_path)
    campaign_id, upload_id, key = _campaign_with_upload(database, store, rows=COPY_CHUNK_ROWS * 3)
    calls = []

    def stop_on_second_chunk() -> bool:
        calls.append(1)
        return len(calls) >= 2

    assert process_upload(database, store, upload_id, should_stop=stop_on_second_chunk) == INTERRUPTED
    status, _rows, stored = _state(database, campaign_id, upload_id)
    assert (status, stored) == ("PROCESSING", 0)
    assert (store.root / key).exists(), "the file is kept so the next start can process it"
    assert process_upload(database, store, upload_id) == DONE
    assert _state(database, campaign_id, upload_id) == ("DONE", COPY_CHUNK_ROWS * 3, COPY_CHUNK_ROWS * 3)
