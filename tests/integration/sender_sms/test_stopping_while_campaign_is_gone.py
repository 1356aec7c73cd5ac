"""sender-sms stops within its grace period even when the service it is waiting on (campaign) is gone.

Every pod of a release restarts together. Before, a batch blocked in a call to campaign (``wait_for_ready``, a 30 s
deadline per call, then again for each message of the failed batch) held the stop past the test's 30 s and a pod's
grace period: seen in CI as sender-sms killed in an end-to-end test's teardown. Now the stopping service's calls are
cancelled a few seconds into the stop (postman_shared.grpc.client) and the batch goes back on the queue, unsent.
"""

from __future__ import annotations

import time
from pathlib import Path

from postman_shared.broker.topology import SMS_SEND
from tests.integration.sender_sms.conftest import rendered_sms
from tests.support.processes import start_services, stop_system
from tests.support.stores import free_port


def ready(channel) -> int:
    return channel.queue_declare(SMS_SEND, passive=True).method.message_count


def test_a_batch_waiting_on_a_gone_campaign_is_requeued_and_the_process_stops_in_time(
        stores, tmp_path: Path, amqp_channel, publish, campaign_id, twilio_credential, sms_settings):
    nowhere = f"127.0.0.1:{free_port()}"  # campaign is down: nothing listens there
    system = start_services(stores, tmp_path, ["sender-sms"], CAMPAIGN_ADDR=nowhere,
                            CREDENTIALS_KEY=sms_settings.credentials_key,
                            TWILIO_API_BASE=f"http://127.0.0.1:{free_port()}")
    try:
        publish(rendered_sms(campaign_id, twilio_credential, 3))
        deadline = time.monotonic() + 20
        while ready(amqp_channel) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready(amqp_channel) == 0, "sender-sms took the batch"
        time.sleep(1.0)  # its handler is now waiting for campaign to answer
    finally:
        codes = stop_system(system, timeout=20.0)
    assert codes == {"sender-sms": 0}, f"sender-sms did not stop on SIGTERM within 20 s:\n{system.logs('sender-sms')}"
    assert ready(amqp_channel) == 3, "the batch is back on the queue, none of it lost"
    assert "requeueing" in system.logs("sender-sms", tail=200)
