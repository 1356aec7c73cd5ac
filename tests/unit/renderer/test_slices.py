"""Flow control's turns: where the campaign.send handler puts a job back after a slice, and how much room a channel's
queue has."""

from __future__ import annotations

import json

from postman_renderer.consumer import WAIT_MS, QueueWindow, SendJobHandler
from postman_renderer.dispatch import Rendered
from postman_shared.broker.consumer import Delivery
from postman_shared.broker.topology import CAMPAIGN_SEND, CAMPAIGN_SEND_WAIT
from postman_shared.messages import SendJob

JOB = SendJob(job_id=7, campaign_id=3, user_id=1)


class FakeRenderer:
    def __init__(self, outcome: Rendered) -> None:
        self.outcome = outcome

    def render(self, job: SendJob) -> Rendered:
        return self.outcome


class Published:
    def __init__(self) -> None:
        self.messages: list = []

    def publish(self, messages, timeout: float = 60.0) -> None:
        self.messages.extend(messages)


def handle(outcome: Rendered, waiting: int = 0) -> list:
    published = Published()
    handler = SendJobHandler(FakeRenderer(outcome), published, lambda: waiting)  # type: ignore[arg-type]
    delivery = Delivery(delivery_tag=1, message_id=JOB.message_id, redelivered=False,
                        body=json.dumps(JOB.to_dict()).encode(), headers={})
    assert handler([delivery]) == []
    return [(m.routing_key, m.body, m.message_id, m.expiration_ms) for m in published.messages]


def test_a_finished_job_is_not_put_back():
    assert handle(Rendered.DONE) == []


def test_a_job_with_more_to_render_goes_to_the_tail_of_campaign_send():
    assert handle(Rendered.MORE) == [(CAMPAIGN_SEND, JOB.to_dict(), JOB.message_id, None)]


def test_a_job_with_more_to_render_queues_behind_the_jobs_that_wait_for_room():
    assert handle(Rendered.MORE, waiting=2) == [(CAMPAIGN_SEND_WAIT, JOB.to_dict(), JOB.message_id, 1)]


def test_a_job_without_room_waits():
    assert handle(Rendered.WAIT) == [(CAMPAIGN_SEND_WAIT, JOB.to_dict(), JOB.message_id, WAIT_MS)]


def test_the_room_is_the_window_less_the_queue_and_none_below_a_quarter_of_it():
    depths = {"email.send": 0}
    window = QueueWindow(100, depths.__getitem__, per_message=1)
    assert window.room("email.send") == 100
    depths["email.send"] = 75
    assert window.room("email.send") == 25
    depths["email.send"] = 76
    assert window.room("email.send") == 0
    depths["email.send"] = 500
    assert window.room("email.send") == 0


def test_the_queue_depth_counts_rendered_batches_as_full_ones():
    depths = {"email.send": 0}
    window = QueueWindow(2000, depths.__getitem__)  # RENDERED_PER_MESSAGE (50) messages per AMQP message
    assert window.room("email.send") == 2000
    depths["email.send"] = 10  # 10 batches: up to 500 messages
    assert window.room("email.send") == 1500
    depths["email.send"] = 31  # 1,550 messages: less than a quarter of the window is free
    assert window.room("email.send") == 0
