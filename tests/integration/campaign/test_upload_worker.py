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



def _rows_examined(plan: dict) -> int:
    """Rows the plan's scans read: those they returned and those their filters threw away."""
    own = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0) if "Scan" in plan["Node Type"] else 0
    return own + sum(_rows_examined(child) for child in plan.get("Plans", []))


def test_a_large_upload_leaves_each_page_of_its_recipients_a_short_read(database, tmp_path):
    """The renderer pages a campaign's recipients by keyset (`recipients_after`). Planned without statistics of the
    rows just copied, a page of a fresh campaign read all of its remaining recipients and sorted them (measured:
    410,001 rows read for 20,000 recipients): quadratic in the campaign's size. The worker refreshes the statistics
    after a large upload, so a page reads about a page."""
    from sqlalchemy import event, text

    from postman_campaign.recipients_store import recipients_after

    pages = []
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append((statement, parameters))

    for n in range(2):  # a second campaign too: its rows follow the first's in the table
        (tmp_path / str(n)).mkdir()
        store = _store(tmp_path / str(n))
        campaign_id, upload_id, _key = _campaign_with_upload(database, store, rows=20_000)
        assert process_upload(database, store, upload_id) == DONE
        with database.engine.connect() as connection:
            first_id = connection.execute(text("SELECT min(id) FROM recipients WHERE campaign_id = :c"),
                                          {"c": campaign_id}).scalar_one()
            event.listen(connection, "before_cursor_execute", capture)
            assert len(recipients_after(connection, campaign_id, first_id + 10_000, 500, valid_only=True)) == 500
            event.remove(connection, "before_cursor_execute", capture)
            statement, parameters = statements[-1]
            plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).scalar_one()
        pages.append(_rows_examined(plan[0]["Plan"]))
    assert all(rows <= 1_000 for rows in pages), f"rows read for one page of 500: {pages}"
