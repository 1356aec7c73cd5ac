"""Delivery receipts end to end: sender-sms sends through the fake Twilio with a signed status callback URL, the
fake really calls the gateway back (signed with the account's auth token, as Twilio does), the gateway queues the
reports, sender-sms checks Twilio's signature and publishes receipts, stats applies them. Gateway (waitress, real
HTTP), campaign, sender-sms and stats all run in-process on the test stores."""

from __future__ import annotations

import urllib.parse
import urllib.request
from dataclasses import replace

from prometheus_client import REGISTRY
from sqlalchemy import text

from postman_gateway.bootstrap import build as build_gateway
from postman_shared.callbacks import sms_status_path
from tests.fakes.twilio import FakeTwilio
from tests.integration.sender_sms.conftest import rendered_sms
from tests.integration.stats.support import wait_until
from tests.support.inprocess import running
from tests.support.stores import free_port


def _outcomes(database, campaign_id: int) -> dict[int, tuple]:
    with database.session() as session:
        rows = session.execute(text("SELECT recipient_id, status, error_code, receipt FROM message_outcomes "
                                    "WHERE campaign_id = :c"), {"c": campaign_id}).all()
    return {row.recipient_id: (row.status, row.error_code, row.receipt) for row in rows}


def _counters(database, campaign_id: int) -> tuple[int, int]:
    with database.session() as session:
        row = session.execute(text("SELECT sent, error FROM campaign_counters WHERE campaign_id = :c"),
                              {"c": campaign_id}).one()
    return row.sent, row.error


def _forged() -> float:
    return REGISTRY.get_sample_value("postman_sms_receipts_total", {"outcome": "forged"}) or 0.0


def _post_callback(url: str, form: dict[str, str], signature: str) -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_twilios_status_callbacks_reach_stats_through_the_gateway_and_a_forged_one_does_not(
        sms_settings, database, publish, campaign_id, account_sid_credential):
    port = free_port()
    settings = replace(sms_settings, gateway_port=port, public_url=f"http://127.0.0.1:{port}")
    credential = account_sid_credential
    messages = rendered_sms(campaign_id, credential, 4)
    undelivered = messages[1]
    forged_before = _forged()
    gateway = build_gateway(settings)
    gateway.start()
    try:
        with FakeTwilio(api_key=credential.api_key, api_secret=credential.api_secret,
                        undelivered={undelivered.to}) as twilio, \
                running(replace(settings, twilio_api_base=twilio.base_url), "campaign", "sender-sms", "stats"):
            # Before anything is sent: a callback at a genuine URL (it leaked) claiming the first message failed,
            # but not signed with the account's auth token. Were it believed, the message would end as an ERROR.
            url = settings.public_url + sms_status_path(campaign_id, messages[0].recipient_id, credential.id,
                                                         settings.callback_signing_key)
            forged_answer = _post_callback(url, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "undelivered",
                                                 "ErrorCode": "30003", "AccountSid": credential.account_sid},
                                           signature="bm90IHR3aWxpbw==")
            publish(messages)
            wait_until(lambda: len(twilio.callbacks) == 2 * len(messages), what="every callback made")
            wait_until(lambda: sum(receipt is not None for _, _, receipt in _outcomes(database, campaign_id).values())
                       == len(messages), what="every receipt applied by stats")
            callbacks = list(twilio.callbacks)

    finally:
        gateway.stop(grace=5)

    assert forged_answer == 204  # the URL is genuine: only sender-sms, holding the auth token, can tell
    assert _forged() - forged_before == 1
    assert _outcomes(database, campaign_id) == {
        m.recipient_id: ("ERROR", "twilio_30003", "ERROR") if m is undelivered else ("DELIVERED", None, "DELIVERED")
        for m in messages}
    assert _counters(database, campaign_id) == (3, 1)
    # Each message: a "sent" then a final callback, every one accepted by the gateway.
    assert sorted(c.params["MessageStatus"] for c in callbacks) == ["delivered"] * 3 + ["sent"] * 4 + ["undelivered"]
    assert {c.answered for c in callbacks} == {204}
