"""Fixtures for the sender-sms tests: a Twilio credential sealed into campaign's table, and a publisher."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from postman_campaign.models import Credential
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import SMS_SEND
from postman_shared.credentials import credential_aad, new_master_key, sealer_from_settings
from postman_shared.messages import RenderedSms
from postman_shared.settings import Settings


@dataclass(frozen=True)
class StoredTwilio:
    id: int
    user_id: int
    account_sid: str
    api_key: str
    api_secret: str
    messaging_service_sid: str


@pytest.fixture
def campaign_id() -> int:
    """A campaign id (and the base of recipient ids) no other test of the run uses: the stores are shared."""
    return secrets.randbelow(10**9) + 1


@pytest.fixture
def sms_settings(settings: Settings) -> Settings:
    """The test settings with a master key for stored credentials (the base fixture has none)."""
    return replace(settings, credentials_key=new_master_key())


def store_credential(database, sms_settings: Settings, user_id: int, plaintext: bytes, channel: str = "SMS") -> int:
    sealed = sealer_from_settings(sms_settings).seal(plaintext, credential_aad(user_id, channel))
    with database.unit_of_work() as session:
        row = Credential(user_id=user_id, channel=channel, label=f"test {secrets.token_hex(4)}", sealed=sealed,
                         key_id=sealer_from_settings(sms_settings).key_id)
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def twilio_credential(database, sms_settings: Settings) -> StoredTwilio:
    """A Twilio credential of a fresh user, sealed and stored as campaign stores it."""
    user_id = secrets.randbelow(10**9) + 1
    fields = {"account_sid": "AC" + secrets.token_hex(16), "api_key": "SK" + secrets.token_hex(16),
              "api_secret": "secret-" + secrets.token_hex(16), "messaging_service_sid": "MG" + secrets.token_hex(16)}
    credential_id = store_credential(database, sms_settings, user_id, json.dumps(fields).encode())
    return StoredTwilio(id=credential_id, user_id=user_id, **fields)


@pytest.fixture
def account_sid_credential(database, sms_settings: Settings) -> StoredTwilio:
    """A Twilio credential given with the Account SID as the API key: its secret is then the account's auth token,
    which signs Twilio's status callbacks."""
    user_id = secrets.randbelow(10**9) + 1
    account_sid = "AC" + secrets.token_hex(16)
    fields = {"account_sid": account_sid, "api_key": account_sid, "api_secret": secrets.token_hex(16),
              "messaging_service_sid": "MG" + secrets.token_hex(16)}
    credential_id = store_credential(database, sms_settings, user_id, json.dumps(fields).encode())
    return StoredTwilio(id=credential_id, user_id=user_id, **fields)


@pytest.fixture
def publish(stores) -> Iterator[Callable[[list[RenderedSms]], None]]:
    publisher = Publisher(stores.amqp_url, app_id="test")

    def _publish(messages: list[RenderedSms]) -> None:
        publisher.publish([OutgoingMessage(SMS_SEND, m.to_dict(), m.message_id) for m in messages])

    yield _publish
    publisher.close()


def rendered_sms(campaign_id: int, credential: StoredTwilio, count: int, **overrides: object) -> list[RenderedSms]:
    messages = []
    for n in range(count):
        fields: dict[str, object] = dict(
            recipient_id=campaign_id * 1000 + n, campaign_id=campaign_id, job_id=campaign_id,
            user_id=credential.user_id, to=f"+659123{n:04d}", body=f"Dear person {n}, your code is {n}. 你好",
            credential_id=credential.id,
        )
        fields.update(overrides)
        messages.append(RenderedSms(**fields))  # type: ignore[arg-type]
    return messages
