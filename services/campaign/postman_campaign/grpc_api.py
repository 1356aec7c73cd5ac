"""CampaignService over gRPC: parse the request, call a use case, convert the result. Nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timezone
from typing import Any

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_campaign import (
    campaign_list,
    campaign_retry,
    campaigns,
    disabled_owner,
    email_check,
    management,
    models,
    previews,
    protected_messages,
    provider_credentials,
    saved_templates,
    scheduling,
    sending,
    stopping,
    templates,
    uploads,
    wire,
)
from postman_campaign.protected_messages import OpeningRules
from postman_campaign.renderer_client import Renderer
from postman_campaign.sender_check import SenderCheck
from postman_shared.db import Database
from postman_shared.object_store import ObjectStore
from postman_shared.settings import Settings
from postman_shared.template_limits import TemplateLimits


class CampaignServicer(campaign_pb2_grpc.CampaignServiceServicer):
    def __init__(self, database: Database, renderer: Renderer, store: ObjectStore, settings: Settings,
                 process_upload: Callable[[int], None], publish_outbox: Callable[[], object],
                 opening_rules: OpeningRules | None = None, senders: SenderCheck | None = None) -> None:
        self._database = database
        # Who an email may be from (issue 12): the default address, or the user's verified ones (asked of auth).
        self._senders = senders or SenderCheck(settings.email_from)
        self._opening_rules = opening_rules or OpeningRules.from_settings(settings)
        self._renderer = renderer
        self._store = store
        self._settings = settings
        self._process_upload = process_upload
        self._publish_outbox = publish_outbox

    def CreateCampaign(self, request: campaign_pb2.CreateCampaignRequest, context: Any) -> campaign_pb2.Campaign:
        if request.saved_template_id:
            return wire.campaign(saved_templates.start_campaign(
                self._database, self._renderer, request.user_id, request.name, request.saved_template_id,
                channel=request.type, protect=request.protect, test=request.test))
        return wire.campaign(campaigns.new_campaign(self._database, request.user_id, request.name, request.type,
                                                    request.protect, test=request.test))

    def ListCampaigns(self, request: campaign_pb2.ListCampaignsRequest,
                      context: Any) -> campaign_pb2.ListCampaignsResponse:
        query = campaign_list.CampaignQuery.checked(
            request.user_id, limit=request.limit, offset=request.offset, channel=request.type,
            status=request.status, name=request.name, sort_by=request.sort_by, order_by=request.order_by)
        views, total = campaign_list.campaigns_page(self._database, query)
        return campaign_pb2.ListCampaignsResponse(campaigns=[wire.campaign(v) for v in views], total_count=total)

    def GetCampaign(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.Campaign:
        return wire.campaign(campaigns.find_campaign(self._database, request.campaign_id, request.user_id))

    def UpdateEmailTemplate(self, request: campaign_pb2.UpdateEmailTemplateRequest,
                            context: Any) -> campaign_pb2.UpdateTemplateResponse:
        change = templates.TemplateChange(
            subject=request.subject, body=request.body,
            reply_to=request.reply_to if request.HasField("reply_to") else None,
            from_address=request.from_address,
            show_logo=request.show_logo if request.HasField("show_logo") else True)
        updated = templates.update_email_template(self._database, self._renderer, self._settings.email_from,
                                                  request.campaign_id, request.user_id, change, self._senders.senders,
                                                  TemplateLimits.of(self._settings))
        assert isinstance(updated.template, models.EmailTemplate)
        return campaign_pb2.UpdateTemplateResponse(
            message=updated.message, extra_keys=updated.extra_keys, valid=updated.valid,
            num_recipients=updated.num_recipients, template=wire.email_template(updated.template))

    def UpdateSmsTemplate(self, request: campaign_pb2.UpdateSmsTemplateRequest,
                          context: Any) -> campaign_pb2.UpdateTemplateResponse:
        updated = templates.update_sms_template(self._database, self._renderer, request.campaign_id,
                                                request.user_id, request.body, TemplateLimits.of(self._settings))
        assert isinstance(updated.template, models.SmsTemplate)
        return campaign_pb2.UpdateTemplateResponse(
            message=updated.message, extra_keys=updated.extra_keys, valid=updated.valid,
            num_recipients=updated.num_recipients,
            sms_template=wire.sms_template(updated.template, updated.segments, updated.encoding))

    def StartUpload(self, request: campaign_pb2.StartUploadRequest, context: Any) -> campaign_pb2.StartUploadResponse:
        started = uploads.start_upload(self._database, self._store, request.campaign_id, request.user_id,
                                       request.mime_type, request.md5, request.channel)
        return campaign_pb2.StartUploadResponse(presigned_url=started.presigned_url,
                                                transaction_id=started.transaction_id)

    def CompleteUpload(self, request: campaign_pb2.CompleteUploadRequest,
                       context: Any) -> campaign_pb2.CompleteUploadResponse:
        uploads.complete_upload(self._database, self._store, self._process_upload, request.campaign_id,
                                request.user_id, request.transaction_id, request.filename,
                                self._settings.max_upload_bytes, request.channel)
        return campaign_pb2.CompleteUploadResponse(campaign_id=request.campaign_id)

    def StartProtectedUpload(self, request: campaign_pb2.StartProtectedUploadRequest,
                             context: Any) -> campaign_pb2.StartProtectedUploadResponse:
        transaction_id, urls = uploads.start_protected_upload(self._database, self._store, request.campaign_id,
                                                              request.user_id, request.mime_type, request.part_count)
        return campaign_pb2.StartProtectedUploadResponse(transaction_id=transaction_id, presigned_urls=urls)

    def CompleteProtectedUpload(self, request: campaign_pb2.CompleteProtectedUploadRequest,
                                context: Any) -> campaign_pb2.CompleteUploadResponse:
        uploads.complete_protected_upload(self._database, self._store, self._process_upload, request.campaign_id,
                                          request.user_id, request.transaction_id, request.filename,
                                          request.part_count, list(request.etags), self._settings.max_upload_bytes)
        return campaign_pb2.CompleteUploadResponse(campaign_id=request.campaign_id)

    def DescribeProtectedMessage(self, request: campaign_pb2.ProtectedMessageRef,
                                 context: Any) -> campaign_pb2.ProtectedMessageInfo:
        found = protected_messages.describe_message(self._database, self._opening_rules, request.message_id,
                                                   request.version)
        return campaign_pb2.ProtectedMessageInfo(state=found.state, kdf=found.kdf, iterations=found.iterations,
                                                 salt=found.salt)

    def OpenProtectedMessage(self, request: campaign_pb2.OpenProtectedMessageRequest,
                             context: Any) -> campaign_pb2.ProtectedPayload:
        payload, version = protected_messages.open_message(self._database, self._opening_rules, request.message_id,
                                                          request.proof)
        return campaign_pb2.ProtectedPayload(payload=payload, version=version)

    def GetUploadStatus(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.UploadStatus:
        return wire.upload_status(uploads.upload_status(self._database, self._renderer, request.campaign_id,
                                                        request.user_id, request.channel))

    def PreviewEmail(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.EmailPreview:
        return wire.email_preview(previews.preview_email(self._database, self._renderer, request.campaign_id,
                                                         request.user_id))

    def PreviewSms(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.SmsPreview:
        return wire.sms_preview(previews.preview_sms(self._database, self._renderer, request.campaign_id,
                                                     request.user_id))

    def UpdateTelegramTemplate(self, request: campaign_pb2.UpdateSmsTemplateRequest,
                               context: Any) -> campaign_pb2.UpdateTemplateResponse:
        updated = templates.update_telegram_template(self._database, self._renderer, request.campaign_id,
                                                     request.user_id, request.body,
                                                     TemplateLimits.of(self._settings))
        assert isinstance(updated.template, models.TelegramTemplate)
        return campaign_pb2.UpdateTemplateResponse(
            message=updated.message, extra_keys=updated.extra_keys, valid=updated.valid,
            num_recipients=updated.num_recipients, sms_template=wire.telegram_template(updated.template))

    def PreviewTelegram(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.SmsPreview:
        return wire.sms_preview(previews.preview_telegram(self._database, self._renderer, request.campaign_id,
                                                          request.user_id))

    def SendCampaign(self, request: campaign_pb2.SendCampaignRequest,
                     context: Any) -> campaign_pb2.SendCampaignResponse:
        scheduled_at = request.scheduled_at.ToDatetime(tzinfo=timezone.utc) if request.HasField("scheduled_at") \
            else None
        send = sending.SendRequest(campaign_id=request.campaign_id, user_id=request.user_id, channel=request.channel,
                                   rate=request.rate, scheduled_at=scheduled_at, simulated=request.simulated)
        job_ids = sending.send_campaign(self._database, self._publish_outbox, send, self._settings.telegram_max_rate,
                                        self._settings.protected_retention_days, self._senders)
        return campaign_pb2.SendCampaignResponse(campaign_id=request.campaign_id, job_ids=job_ids)

    def FindCredential(self, request: campaign_pb2.FindCredentialRequest,
                       context: Any) -> campaign_pb2.CredentialInfo:
        return wire.credential(provider_credentials.find_credential(self._database, request.user_id,
                                                                    request.channel, request.label))

    def ListCredentials(self, request: campaign_pb2.ListCredentialsRequest,
                        context: Any) -> campaign_pb2.ListCredentialsResponse:
        found = provider_credentials.list_credentials(self._database, request.user_id, request.channel)
        return campaign_pb2.ListCredentialsResponse(credentials=[wire.credential(c) for c in found])

    def AssignCredential(self, request: campaign_pb2.AssignCredentialRequest, context: Any) -> campaign_pb2.Campaign:
        return wire.campaign(provider_credentials.assign_credential(self._database, request.campaign_id,
                                                                    request.user_id, request.credential_id))

    def DeleteCredential(self, request: campaign_pb2.DeleteCredentialRequest,
                         context: Any) -> campaign_pb2.CredentialInfo:
        return wire.credential(provider_credentials.delete_credential(self._database, request.user_id,
                                                                      request.credential_id))

    def StoreSealedCredential(self, request: campaign_pb2.StoreSealedCredentialRequest,
                              context: Any) -> campaign_pb2.CredentialInfo:
        return wire.credential(provider_credentials.store_sealed(
            self._database, request.user_id, request.channel, request.label, request.sealed, request.key_id,
            request.description, request.campaign_id))

    def GetJob(self, request: campaign_pb2.GetJobRequest, context: Any) -> campaign_pb2.JobDetails:
        details = sending.get_job(self._database, request.job_id)
        return campaign_pb2.JobDetails(job=wire.job(details.job), campaign=wire.campaign(details.campaign))

    def SetJobStatus(self, request: campaign_pb2.SetJobStatusRequest, context: Any) -> campaign_pb2.Job:
        counts = request.counts if request.HasField("counts") else None
        notice = sending.FinishedNotice(self._settings.public_url, self._publish_outbox)
        return wire.job(sending.set_job_status(self._database, request.job_id, request.status, counts, notice))

    def GetStoppedJobs(self, request: campaign_pb2.GetStoppedJobsRequest,
                       context: Any) -> campaign_pb2.GetStoppedJobsResponse:
        return campaign_pb2.GetStoppedJobsResponse(
            stopped_job_ids=stopping.stopped_jobs(self._database, request.job_ids))

    def HaltCampaign(self, request: campaign_pb2.HaltCampaignRequest, context: Any) -> campaign_pb2.Campaign:
        return wire.campaign(stopping.halt_campaign(self._database, self._publish_outbox, request.campaign_id,
                                                    request.job_id, request.reason, request.counts,
                                                    self._settings.public_url))

    def StopCampaign(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.Campaign:
        return wire.campaign(stopping.stop_campaign(self._database, request.campaign_id, request.user_id,
                                                    request.channel))

    def StopCampaignsOfUser(self, request: campaign_pb2.StopCampaignsOfUserRequest,
                            context: Any) -> campaign_pb2.StopCampaignsOfUserResponse:
        done = disabled_owner.stop_campaigns_of_user(self._database, request.user_id)
        return campaign_pb2.StopCampaignsOfUserResponse(cancelled_campaign_ids=done.cancelled_campaign_ids,
                                                        stopped_campaign_ids=done.stopped_campaign_ids)

    def StreamRecipients(self, request: campaign_pb2.StreamRecipientsRequest,
                         context: Any) -> Iterator[campaign_pb2.RecipientBatch]:
        for rows in sending.stream_recipients(self._database, request.campaign_id, request.after_id,
                                              request.batch_size, request.valid_only, request.limit):
            yield wire.recipient_batch(rows)

    def GetSealedCredential(self, request: campaign_pb2.GetSealedCredentialRequest,
                            context: Any) -> campaign_pb2.SealedCredential:
        found = provider_credentials.get_sealed_credential(self._database, request.credential_id)
        return campaign_pb2.SealedCredential(id=found.id, user_id=found.user_id, channel=found.channel,
                                             sealed=found.sealed)

    def UpdateCampaign(self, request: campaign_pb2.UpdateCampaignRequest, context: Any) -> campaign_pb2.Campaign:
        name = request.name if request.HasField("name") else None
        return wire.campaign(management.update_campaign(self._database, request.campaign_id, request.user_id, name))

    def DeleteCampaign(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.CampaignRef:
        management.delete_campaign(self._database, request.campaign_id, request.user_id, self._store)
        return campaign_pb2.CampaignRef(campaign_id=request.campaign_id, user_id=request.user_id)

    def CancelScheduledSend(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.Campaign:
        return wire.campaign(scheduling.cancel_scheduled(self._database, request.campaign_id, request.user_id))

    def RetryCampaign(self, request: campaign_pb2.RetryCampaignRequest,
                      context: Any) -> campaign_pb2.SendCampaignResponse:
        job_id = campaign_retry.retry_campaign(self._database, self._publish_outbox, request.campaign_id,
                                               request.user_id, request.channel, request.confirm_halted,
                                               self._senders)
        return campaign_pb2.SendCampaignResponse(campaign_id=request.campaign_id, job_ids=[job_id])

    def DuplicateCampaign(self, request: campaign_pb2.DuplicateCampaignRequest,
                          context: Any) -> campaign_pb2.Campaign:
        return wire.campaign(management.duplicate_campaign(self._database, request.campaign_id, request.user_id,
                                                           request.name, request.channel))

    def ClearUploadError(self, request: campaign_pb2.CampaignRef, context: Any) -> campaign_pb2.CampaignRef:
        uploads.clear_upload_error(self._database, request.campaign_id, request.user_id, request.channel)
        return campaign_pb2.CampaignRef(campaign_id=request.campaign_id, user_id=request.user_id)

    def SendTestEmail(self, request: campaign_pb2.SendTestEmailRequest,
                      context: Any) -> campaign_pb2.SendTestEmailResponse:
        message_id = email_check.send_test_email(self._database, self._renderer, self._publish_outbox,
                                                 request.campaign_id, request.user_id, request.recipient,
                                                 self._settings.email_from, self._senders,
                                                 simulated=request.simulated)
        return campaign_pb2.SendTestEmailResponse(message_id=message_id)

    # --- saved templates (issue 18) ---

    def _template_rules(self) -> saved_templates.TemplateRules:
        return saved_templates.TemplateRules(self._renderer, self._settings.email_from, self._senders.senders,
                                             TemplateLimits.of(self._settings))

    def ListSavedTemplates(self, request: campaign_pb2.ListSavedTemplatesRequest,
                           context: Any) -> campaign_pb2.ListSavedTemplatesResponse:
        found = saved_templates.list_templates(self._database, request.user_id, request.channel)
        return campaign_pb2.ListSavedTemplatesResponse(templates=[wire.saved_template(t) for t in found])

    def GetSavedTemplate(self, request: campaign_pb2.SavedTemplateRef, context: Any) -> campaign_pb2.SavedTemplate:
        return wire.saved_template(saved_templates.find_template(self._database, request.template_id,
                                                                 request.user_id))

    def CreateSavedTemplate(self, request: campaign_pb2.CreateSavedTemplateRequest,
                            context: Any) -> campaign_pb2.SavedTemplate:
        if request.campaign_id:
            return wire.saved_template(saved_templates.save_campaign_template(
                self._database, request.campaign_id, request.user_id, request.fields.name))
        return wire.saved_template(saved_templates.create_template(
            self._database, self._template_rules(), request.user_id, _template_fields(request.fields)))

    def UpdateSavedTemplate(self, request: campaign_pb2.UpdateSavedTemplateRequest,
                            context: Any) -> campaign_pb2.SavedTemplate:
        return wire.saved_template(saved_templates.update_template(
            self._database, self._template_rules(), request.template_id, request.user_id,
            _template_fields(request.fields)))

    def DeleteSavedTemplate(self, request: campaign_pb2.SavedTemplateRef,
                            context: Any) -> campaign_pb2.SavedTemplateRef:
        saved_templates.delete_template(self._database, request.template_id, request.user_id)
        return request


def _template_fields(fields: campaign_pb2.SavedTemplateFields) -> saved_templates.TemplateFields:
    return saved_templates.TemplateFields(
        name=fields.name, channel=fields.channel, body=fields.body, subject=fields.subject,
        reply_to=fields.reply_to if fields.HasField("reply_to") else None, from_address=fields.from_address,
        show_logo=fields.show_logo if fields.HasField("show_logo") else True)
