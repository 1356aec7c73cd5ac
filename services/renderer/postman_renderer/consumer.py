"""The ``campaign.send`` handler: decodes each SendJob and hands it to the JobRenderer.

Batches hold one job each. The delivery is acked only after the job's slice is rendered and, when the job is not
finished, after its continuation (the same SendJob) is confirmed back in line: on ``campaign.send`` when the slice
used the room it had, through ``campaign.send.wait`` (a short wait) when its channel's queue was full, or (without
a wait of its own) when other jobs wait there, so that jobs take turns. A crash means
redelivery and a resumed render. Malformed messages and jobs that can never be rendered are returned for
dead-lettering; any other failure raises, and the job is retried.
"""

from __future__ import annotations

from collections.abc import Callable

from postman_renderer.dispatch import JobCannotBeRendered, JobRenderer, Publishing, Rendered
from postman_shared.broker.batches import RENDERED_PER_MESSAGE, decode_each
from postman_shared.broker.consumer import Delivery
from postman_shared.broker.publisher import OutgoingMessage
from postman_shared.broker.topology import CAMPAIGN_SEND, CAMPAIGN_SEND_WAIT
from postman_shared.logging import get_logger
from postman_shared.messages import SendJob

log = get_logger(component="send-job-consumer")

# How long a job whose channel's queue is full waits before it looks again (at ~1,700 msg/s, ~850 messages leave).
WAIT_MS = 500


class QueueWindow:
    """Flow control by queue depth: a channel's queue may hold ``window`` ready messages. The room is what is left,
    or none while less than a quarter of the window is free (so a job is not rendered in slivers).

    The queue's depth counts AMQP messages, each a rendered batch of up to ``per_message`` messages: it is taken as
    full batches (a single message, a retry's or one put back, counts as a batch: the window errs on the safe side)."""

    def __init__(self, window: int, depth: Callable[[str], int], per_message: int = RENDERED_PER_MESSAGE) -> None:
        self._window = window
        self._depth = depth
        self._per_message = per_message
        self._least = max(1, window // 4)

    def room(self, queue: str) -> int:
        free = self._window - self._depth(queue) * self._per_message
        return free if free >= self._least else 0


class SendJobHandler:
    def __init__(self, renderer: JobRenderer, publisher: Publishing | None = None,
                 waiting: Callable[[], int] = lambda: 0) -> None:
        self._renderer = renderer
        self._publisher = publisher  # needed only when the renderer has a window (its jobs come back in slices)
        self._waiting = waiting  # how many jobs wait in campaign.send.wait

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        decoded, rejected = decode_each(batch, SendJob.from_dict, "send job", batches=False)
        for delivery, job in decoded:
            try:
                rendered = self._renderer.render(job)
            except JobCannotBeRendered as exc:
                log.error("send job cannot be rendered", job_id=job.job_id, campaign_id=job.campaign_id,
                          reason=str(exc))
                rejected.append(delivery)
                continue
            if rendered is not Rendered.DONE:
                self._back_in_line(job, rendered)
        return rejected

    def _back_in_line(self, job: SendJob, rendered: Rendered) -> None:
        """The job's next slice, confirmed before this delivery is acked: a crash in between means a redelivery
        too, and the job's advisory lock keeps the two from rendering at once."""
        assert self._publisher is not None, "a renderer with a window needs a publisher for the job's next slice"
        if rendered is Rendered.WAIT:
            message = OutgoingMessage(CAMPAIGN_SEND_WAIT, job.to_dict(), job.message_id, expiration_ms=WAIT_MS)
        elif self._waiting():
            # Others wait for room: this job's next turn comes after theirs (the wait queue is first in, first out;
            # its head expires first), else a job that always finds room would go round while they sit out a wait.
            message = OutgoingMessage(CAMPAIGN_SEND_WAIT, job.to_dict(), job.message_id, expiration_ms=1)
        else:
            message = OutgoingMessage(CAMPAIGN_SEND, job.to_dict(), job.message_id)
        self._publisher.publish([message])
