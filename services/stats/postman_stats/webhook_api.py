"""ClientWebhookService over gRPC (called by the gateway): a thin layer over ``client_webhooks``. Every call is about
the ``user_id`` it names, so a user only ever reads or changes their own webhooks."""

from __future__ import annotations

from typing import Any

from postman.v1 import client_webhooks_pb2 as pb
from postman.v1 import client_webhooks_pb2_grpc
from postman_shared.db import Database
from postman_shared.timestamps import to_timestamp
from postman_stats import client_webhooks
from postman_stats.client_webhooks import Deliverer
from postman_stats.webhook_models import ClientWebhook, ClientWebhookAttempt


def webhook_message(row: ClientWebhook) -> pb.Webhook:
    return pb.Webhook(kind=row.kind, url=row.url, created_at=to_timestamp(row.created_at),
                      updated_at=to_timestamp(row.updated_at), paused=row.paused_at is not None,
                      paused_at=to_timestamp(row.paused_at), pause_reason=row.pause_reason or "",
                      consecutive_failures=row.consecutive_failures, last_success_at=to_timestamp(row.last_success_at))


def attempt_message(row: ClientWebhookAttempt) -> pb.WebhookAttempt:
    return pb.WebhookAttempt(event_id=row.event_id, event_type=row.event_type, attempt=row.attempt,
                             attempted_at=to_timestamp(row.attempted_at), outcome=row.outcome,
                             status_code=row.status_code or 0, error=row.error or "", duration_ms=row.duration_ms,
                             next_attempt_at=to_timestamp(row.next_attempt_at))


class ClientWebhookServicer(client_webhooks_pb2_grpc.ClientWebhookServiceServicer):
    def __init__(self, database: Database, deliverer: Deliverer) -> None:
        self._database = database
        self._deliverer = deliverer

    def ListWebhooks(self, request: pb.ListWebhooksRequest, context: Any) -> pb.WebhookList:
        return pb.WebhookList(webhooks=[webhook_message(row) for row in
                                        client_webhooks.list_webhooks(self._database, request.user_id)])

    def PutWebhook(self, request: pb.PutWebhookRequest, context: Any) -> pb.WebhookAnswer:
        row, secret, created = client_webhooks.put_webhook(self._database, self._deliverer, request.user_id,
                                                           request.kind, request.url)
        return pb.WebhookAnswer(webhook=webhook_message(row), secret=secret, created=created)

    def RotateWebhookSecret(self, request: pb.WebhookRequest, context: Any) -> pb.WebhookAnswer:
        row, secret = client_webhooks.rotate_secret(self._database, self._deliverer, request.user_id, request.kind)
        return pb.WebhookAnswer(webhook=webhook_message(row), secret=secret)

    def DeleteWebhook(self, request: pb.WebhookRequest, context: Any) -> pb.Webhook:
        return webhook_message(client_webhooks.delete_webhook(self._database, request.user_id, request.kind))

    def ListWebhookAttempts(self, request: pb.WebhookAttemptsRequest, context: Any) -> pb.WebhookAttemptList:
        rows = client_webhooks.attempts(self._database, request.user_id, request.kind, request.limit)
        return pb.WebhookAttemptList(attempts=[attempt_message(row) for row in rows])

    def SendTestWebhookEvent(self, request: pb.WebhookRequest, context: Any) -> pb.WebhookAttempt:
        return attempt_message(client_webhooks.send_test(self._database, self._deliverer, request.user_id,
                                                         request.kind))
