"""The ``campaign.send`` handler: decodes each SendJob and hands it to the JobRenderer.

Batches hold one job each (jobs are big units of work); the delivery is acked only after the job is fully
rendered, so a crash means redelivery and a resumed render. Malformed messages and jobs that can never be rendered
are returned for dead-lettering; any other failure raises, and the job is retried.
"""

from __future__ import annotations

from postman_renderer.dispatch import JobCannotBeRendered, JobRenderer
from postman_shared.broker.consumer import Delivery
from postman_shared.logging import get_logger
from postman_shared.messages import SendJob

log = get_logger(component="send-job-consumer")


class SendJobHandler:
    def __init__(self, renderer: JobRenderer) -> None:
        self._renderer = renderer

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        rejected: list[Delivery] = []
        for delivery in batch:
            try:
                job = SendJob.from_dict(delivery.json())
            except (ValueError, KeyError, TypeError) as exc:
                log.error("malformed send job", message_id=delivery.message_id, error=str(exc))
                rejected.append(delivery)
                continue
            try:
                self._renderer.render(job)
            except JobCannotBeRendered as exc:
                log.error("send job cannot be rendered", job_id=job.job_id, campaign_id=job.campaign_id,
                          reason=str(exc))
                rejected.append(delivery)
        return rejected
