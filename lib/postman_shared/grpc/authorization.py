"""Which service may call which gRPC method: one table, checked on every call.

Each service proves who it is with its certificate (subject CN = its name, see ``identity``); a method answers only
the services that really call it, so a compromised or tricked pod (an SSRF in the renderer, say) cannot mint API keys
at auth, read any campaign's recipients or send mail as anyone, even with a valid certificate of its own. The table
was built from the callers' code (every stub use in services/ and lib/); a method not in it is refused to everyone,
and tests/unit/test_grpc_authorization.py checks that every RPC the protos declare is in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter

from postman_shared.logging import get_logger

log = get_logger(component="grpc")
# Alert on any increase: in a healthy installation no service calls what it does not need.
REFUSED = Counter("postman_grpc_refused_total", "gRPC calls refused by the method table", ["method", "caller"])

GATEWAY = "gateway"
POSTMANCTL = "postmanctl"
SENDERS = ("sender-email", "sender-sms", "sender-telegram")
# Every identity the local authority issues a certificate for (``postmanctl certs``).
SERVICES = ("auth", "campaign", "renderer", "stats", *SENDERS, GATEWAY, POSTMANCTL)


def _methods(service: str, callers: Iterable[str], *names: str) -> dict[str, frozenset[str]]:
    allowed = frozenset(callers)
    return {f"/{service}/{name}": allowed for name in names}


AUTH = "postman.v1.AuthService"
CAMPAIGN = "postman.v1.CampaignService"
SUPPRESSION = "postman.v1.SuppressionService"
STATS = "postman.v1.StatsService"

# method full name -> the services allowed to call it
ALLOWED_CALLERS: dict[str, frozenset[str]] = {
    # the public API and web pages: signing in, sessions, API keys, sender addresses (gateway)
    **_methods(AUTH, [GATEWAY], "Authenticate", "RequestOtp", "Login", "ResolveSession", "Logout", "CreateApiKey",
               "ListApiKeys", "RevokeApiKey", "RecordAudit", "ListSenderAddresses", "VerifySenderAddress",
               "ConfirmSenderAddress", "DeleteSenderAddress"),
    **_methods(AUTH, ["campaign", "sender-email"], "GetVerifiedSenders"),  # the From a template may use
    **_methods(AUTH, ["renderer"], "GetAgency"),  # the theme of each email
    # officers' campaigns (gateway)
    **_methods(CAMPAIGN, [GATEWAY], "CreateCampaign", "UpdateEmailTemplate", "StartUpload",
               "CompleteUpload", "GetUploadStatus", "PreviewEmail", "UpdateSmsTemplate", "PreviewSms",
               "UpdateTelegramTemplate", "PreviewTelegram", "SendCampaign", "FindCredential", "ListCredentials",
               "AssignCredential", "UpdateCampaign", "DeleteCampaign", "CancelScheduledSend",
               "RetryCampaign", "StopCampaign", "DuplicateCampaign", "ClearUploadError", "SendTestEmail",
               "StartProtectedUpload", "CompleteProtectedUpload", "DescribeProtectedMessage",
               "OpenProtectedMessage", "ListSavedTemplates", "GetSavedTemplate", "CreateSavedTemplate",
               "UpdateSavedTemplate", "DeleteSavedTemplate"),
    # stats checks the owner of what it reports by asking campaign (the list's picture: the user's campaigns)
    **_methods(CAMPAIGN, [GATEWAY, "stats"], "GetCampaign", "ListCampaigns"),
    **_methods(CAMPAIGN, [POSTMANCTL], "StopCampaignsOfUser"),  # postmanctl disable-user
    # the pipeline: jobs, recipients, halting, stops (renderer, stats, senders)
    **_methods(CAMPAIGN, ["renderer"], "GetJob"),
    **_methods(CAMPAIGN, ["renderer", "stats"], "SetJobStatus", "StreamRecipients"),
    **_methods(CAMPAIGN, ["stats"], "HaltCampaign"),
    **_methods(CAMPAIGN, ["renderer", *SENDERS], "GetStoppedJobs"),
    # sealed provider credentials (the SMS and Telegram senders)
    **_methods(CAMPAIGN, ["sender-sms", "sender-telegram"], "GetSealedCredential", "StoreSealedCredential"),
    **_methods(CAMPAIGN, [GATEWAY, "sender-telegram"], "DeleteCredential"),  # a bot whose webhook could not be set
    # the suppression list (served by campaign)
    **_methods(SUPPRESSION, [*SENDERS, POSTMANCTL], "ScreenRecipients"),  # postmanctl: an import's dry run
    **_methods(SUPPRESSION, [GATEWAY, POSTMANCTL], "ListSuppressions", "LiftSuppression"),
    # support's entries (gateway, postmanctl), bounces and complaints (sender-email), STOP replies (sender-sms)
    **_methods(SUPPRESSION, [GATEWAY, POSTMANCTL, "sender-email", "sender-sms"], "AddSuppressions"),
    **_methods(SUPPRESSION, [GATEWAY], "GetUnsubscribeState", "Resubscribe"),
    **_methods(SUPPRESSION, [GATEWAY, "sender-email"], "Unsubscribe"),  # links (gateway), mailto (bounce mailbox)
    **_methods(SUPPRESSION, ["stats"], "StreamUnsubscribes"),
    # previews of templates (campaign checks a template on save; the gateway's editor previews unsaved text)
    **_methods("postman.v1.RendererService", ["campaign", GATEWAY], "ValidateTemplate", "RenderPreview"),
    # reports (gateway) and retries (renderer)
    **_methods(STATS, [GATEWAY], "GetCampaignStats", "ExportCampaign", "RefreshCampaignStats",
               "GetCampaignCounters", "GetCampaignTimeline", "GetSendingOverview"),
    **_methods(STATS, ["renderer"], "StartRetry", "StreamRecordedRecipients"),
    # client webhooks: the user's own, from the API and the Settings page (gateway; served by stats)
    **_methods("postman.v1.ClientWebhookService", [GATEWAY], "ListWebhooks", "PutWebhook", "RotateWebhookSecret",
               "DeleteWebhook", "ListWebhookAttempts", "SendTestWebhookEvent"),
    # the senders' own calls from officers and the transactional API (gateway)
    **_methods("postman.v1.SmsSenderService", [GATEWAY], "AddTwilioCredential", "SendTestSms"),
    **_methods("postman.v1.TelegramSenderService", [GATEWAY], "AddBot", "SendTestMessage"),
    **_methods("postman.v1.TransactionalSmsService", [GATEWAY], "SendTransactionalSms", "ListTransactionalSms",
               "GetTransactionalSms"),
    **_methods("postman.v1.TransactionalEmailService", [GATEWAY], "SendTransactionalEmail",
               "ListTransactionalEmails", "GetTransactionalEmail"),
    # whether a service is up: any service of the installation (probes use the plaintext health port instead)
    **_methods("grpc.health.v1.Health", SERVICES, "Check", "Watch", "List"),
}


def caller_of(context: grpc.ServicerContext) -> str | None:
    """The service on the other end: the subject CN of its verified client certificate (None without one)."""
    names = (context.auth_context() or {}).get("x509_common_name") or []
    if len(names) != 1:
        return None
    name = names[0]
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def refusal(method: str, caller: str | None, table: dict[str, frozenset[str]] = ALLOWED_CALLERS) -> str | None:
    """Why ``caller`` may not call ``method`` (None when it may)."""
    allowed = table.get(method)
    if allowed is None:
        return f"{method} is not open to any service"
    if caller is None:
        return "the caller presented no service certificate"
    if caller not in allowed:
        return f"{caller} may not call {method}"
    return None


class CallerCheck(grpc.ServerInterceptor):
    """Refuses, with PERMISSION_DENIED and a log line, every call whose caller the table does not allow."""

    def __init__(self, service: str, table: dict[str, frozenset[str]] = ALLOWED_CALLERS) -> None:
        self._service = service
        self._table = table

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def check(context: grpc.ServicerContext) -> None:
            caller = caller_of(context)
            reason = refusal(method, caller, self._table)
            if reason is not None:
                REFUSED.labels(method if method in self._table else "(unknown)", caller or "(none)").inc()
                log.warning("gRPC call refused", service=self._service, method=method, caller=caller or "",
                            peer=context.peer(), reason=reason)
                context.abort(grpc.StatusCode.PERMISSION_DENIED, reason)

        def guarded(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                check(context)
                return behaviour(request, context)
            return call

        def guarded_stream(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                check(context)
                yield from behaviour(request, context)
            return call

        def rebuilt(kind: Callable[..., Any], behaviour: Callable[..., Any]) -> Any:
            return kind(behaviour, request_deserializer=handler.request_deserializer,
                        response_serializer=handler.response_serializer)

        if handler.unary_unary:
            return rebuilt(grpc.unary_unary_rpc_method_handler, guarded(handler.unary_unary))
        if handler.unary_stream:
            return rebuilt(grpc.unary_stream_rpc_method_handler, guarded_stream(handler.unary_stream))
        if handler.stream_unary:
            return rebuilt(grpc.stream_unary_rpc_method_handler, guarded(handler.stream_unary))
        return rebuilt(grpc.stream_stream_rpc_method_handler, guarded_stream(handler.stream_stream))
