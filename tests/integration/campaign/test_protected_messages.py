"""Protected messages in the campaign service on the real database: a version 2 file (as the officers' page makes
it) stored by the upload worker, the attempt limit under parallel guesses, and expiry."""

from __future__ import annotations

import base64
import csv
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from postman_campaign.models import Campaign, ProtectedMessage, Recipient, Upload
from postman_campaign.protected_messages import (
    OpeningRules,
    ProtectedStorage,
    describe_message,
    expire_messages,
    open_message,
)
from postman_campaign.upload_worker import DONE, FAILED, process_upload
from postman_shared import protected_format
from postman_shared.grpc.errors import ServiceError
from postman_shared.object_store import LocalObjectStore
from postman_shared.timestamps import utcnow

PUBLIC_URL = "https://postman.example.gov.sg"
ITERATIONS = protected_format.V2_ITERATIONS


def v2_file(rows: list[tuple[str, str, str]]) -> tuple[str, list[dict[str, str]]]:
    """The file the officers' page uploads: recipient,payload,accesshash,id,salt,iterations."""
    out, made = io.StringIO(), []
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["recipient", "payload", "accesshash", "id", "salt", "iterations"])
    for recipient, password, message in rows:
        message_id = str(uuid.uuid4())
        sealed, salt = protected_format.v2_seal(message, password, message_id)
        writer.writerow([recipient, sealed.payload, sealed.check, message_id, base64.b64encode(salt).decode(),
                         ITERATIONS])
        made.append({"id": message_id, "password": password, "message": message, "salt": salt})
    return out.getvalue(), made


def stored_upload(database, tmp_path, content: str) -> tuple[LocalObjectStore, int, int]:
    store = LocalObjectStore(tmp_path, "http://localhost", "key", 60)
    key = f"protected-{uuid.uuid4().hex}.csv"
    (tmp_path / key).write_text(content)
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=1, name="results", type="EMAIL", protect=True, recipient_keys=[])
        session.add(campaign)
        session.flush()
        upload = Upload(campaign_id=campaign.id, transaction_id=key, object_key=key, mime_type="text/csv",
                        status="PROCESSING", filename="results.csv")
        session.add(upload)
        session.flush()
        return store, campaign.id, upload.id


RULES = OpeningRules(b"decoy-key-for-tests", max_attempts=10, lock_minutes=15)


class Reader:
    """The recipient's side as the campaign service's servicer calls it."""

    def __init__(self, database):
        self.database = database

    def describe(self, message_id, version):
        return describe_message(self.database, RULES, message_id, version)

    def open(self, message_id, proof):
        return open_message(self.database, RULES, message_id, proof)


@pytest.fixture
def reader(database):
    return Reader(database)


def proof_v2(password: str, salt: bytes) -> str:
    return base64.b64encode(protected_format.v2_keys(password, salt).access_token).decode()


def test_a_version_2_file_is_stored_as_ciphertext_and_opens_only_with_its_own_password(database, tmp_path, reader):
    content, made = v2_file([("ana@example.gov.sg", "S1111111A", "<p>Ana: negative</p>"),
                             ("ben@example.gov.sg", "S2222222B", "<p>Ben: positive</p>")])
    store, campaign_id, upload_id = stored_upload(database, tmp_path, content)
    storage = ProtectedStorage(PUBLIC_URL, retention_days=30)
    assert process_upload(database, store, upload_id, protected=storage) == DONE

    with database.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert (campaign.num_recipients, campaign.recipient_keys) == (2, ["recipient", "protectedlink"])
        links = {r.recipient: r.params["protectedlink"] for r in session.scalars(
            select(Recipient).where(Recipient.campaign_id == campaign_id))}
        stored = {m.id: (m.version, m.payload, m.salt, m.iterations) for m in session.scalars(
            select(ProtectedMessage).where(ProtectedMessage.campaign_id == campaign_id))}
    assert links == {"ana@example.gov.sg": f"{PUBLIC_URL}/p/2/{made[0]['id']}",
                     "ben@example.gov.sg": f"{PUBLIC_URL}/p/2/{made[1]['id']}"}
    for entry in made:
        version, payload, salt, iterations = stored[entry["id"]]
        assert (version, iterations, salt) == (2, ITERATIONS, base64.b64encode(entry["salt"]).decode())
        assert entry["message"] not in payload and "negative" not in payload

    ana, ben = made
    described = reader.describe(ana["id"], 2)
    assert (described.state, described.iterations, described.salt) == ("READY", ITERATIONS, stored[ana["id"]][2])
    payload, version = reader.open(ana["id"], proof_v2("S1111111A", ana["salt"]))
    assert version == 2
    assert protected_format.v2_open(payload, "S1111111A", ana["id"], ana["salt"], ITERATIONS) == ana["message"]
    with pytest.raises(ServiceError) as wrong:
        reader.open(ana["id"], proof_v2("S2222222B", ana["salt"]))  # Ben's password on Ana's message
    assert wrong.value.code == "wrong_password"
    with pytest.raises(ServiceError):
        reader.open(ben["id"], stored[ben["id"]][1])  # anything stored opens nothing


def test_an_unknown_id_is_described_with_stable_stand_ins(reader):
    unknown = str(uuid.uuid4())
    first, again = reader.describe(unknown, 2), reader.describe(unknown, 2)
    assert first == again and first.state == "READY" and first.iterations == ITERATIONS
    assert len(base64.b64decode(first.salt)) == protected_format.V2_SALT_BYTES
    assert reader.describe(str(uuid.uuid4()), 2).salt != first.salt


@pytest.mark.parametrize("exists", [True, False], ids=["existing-id", "unknown-id"])
def test_parallel_guesses_are_counted_one_by_one_and_stop_at_the_limit(database, tmp_path, reader, exists):
    content, made = v2_file([("ana@example.gov.sg", "S1111111A", "<p>Ana</p>")])
    store, _, upload_id = stored_upload(database, tmp_path, content)
    assert process_upload(database, store, upload_id, protected=ProtectedStorage(PUBLIC_URL, 30)) == DONE
    target = made[0]["id"] if exists else str(uuid.uuid4())

    def guess(number: int) -> str:
        try:
            reader.open(target, base64.b64encode(number.to_bytes(32, "big")).decode())
        except ServiceError as exc:
            return exc.code
        return "opened"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(guess, range(40)))
    assert answers.count("wrong_password") == 10  # exactly the limit was checked, however they interleaved
    assert answers.count("message_locked") == 30
    if exists:  # the right password waits too, until the window ends
        with pytest.raises(ServiceError) as locked:
            reader.open(target, proof_v2("S1111111A", made[0]["salt"]))
        assert locked.value.code == "message_locked" and 0 < locked.value.retry_after <= 15 * 60


def test_a_bad_version_2_row_is_named_by_line_and_column(database, tmp_path):
    content, _ = v2_file([("ana@example.gov.sg", "S1111111A", "<p>Ana</p>"), ("ben@example.gov.sg", "p", "<p>B</p>")])
    content = content.replace(f",{ITERATIONS}\r\n", ",1000\r\n", 2)  # too few iterations on both rows
    store, campaign_id, upload_id = stored_upload(database, tmp_path, content)
    assert process_upload(database, store, upload_id, protected=ProtectedStorage(PUBLIC_URL, 30)) == FAILED
    with database.session() as session:
        error = session.get(Upload, upload_id).error
        assert session.scalar(select(ProtectedMessage.id).where(ProtectedMessage.campaign_id == campaign_id)) is None
    assert "line 2, column iterations" in error and "600,000" in error


def test_expiry_erases_the_ciphertext_in_batches_and_keeps_the_id(database, tmp_path, reader, monkeypatch):
    from postman_campaign import protected_messages

    monkeypatch.setattr(protected_messages, "EXPIRE_BATCH", 2)
    content, made = v2_file([(f"r{i}@example.gov.sg", f"pw{i}", f"<p>{i}</p>") for i in range(5)])
    store, campaign_id, upload_id = stored_upload(database, tmp_path, content)
    assert process_upload(database, store, upload_id, protected=ProtectedStorage(PUBLIC_URL, 30)) == DONE
    assert expire_messages(database, now=utcnow() + timedelta(days=29)) == 0
    assert expire_messages(database, now=utcnow() + timedelta(days=31)) >= 5
    with database.session() as session:
        left = session.execute(select(ProtectedMessage.payload, ProtectedMessage.check_value).where(
            ProtectedMessage.campaign_id == campaign_id)).all()
    assert left == [(None, None)] * 5
    assert reader.describe(made[0]["id"], 2).state == "EXPIRED"
    with pytest.raises(ServiceError) as gone:
        reader.open(made[0]["id"], proof_v2("pw0", made[0]["salt"]))
    assert gone.value.code == "message_expired"


def test_the_decoy_key_is_required_outside_local_development(database):
    from dataclasses import replace

    from postman_shared.settings import Settings, SettingsError

    production = replace(Settings(), public_url="https://postman.agency.gov.sg", protect_decoy_key="")
    with pytest.raises(SettingsError, match="PROTECT_DECOY_KEY"):
        OpeningRules.from_settings(production)
    with pytest.raises(SettingsError, match="too short"):
        OpeningRules.from_settings(replace(production, protect_decoy_key="short"))
    local = OpeningRules.from_settings(replace(production, public_url="http://localhost:8080"))
    assert len(local.decoy_key) == 64  # a random one, for this process only
