"""Helpers for the campaign service's tests: a thin client over the real gRPC API, and upload steps."""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

from postman.v1 import campaign_pb2 as pb
from postman.v1 import campaign_pb2_grpc
from postman_shared.grpc import client
from postman_shared.settings import Settings
from tests.conftest import TESTDATA
from tests.support import service_identity

TEMPLATE_BODY = "<p>Dear {{ name }}, your appointment is at {{ appointment }}.</p>"


def new_user_id() -> int:
    """A user id no other test uses, so every test sees only its own campaigns."""
    return secrets.randbelow(2**52) + 1


def wait_until(condition, timeout: float = 20.0, interval: float = 0.05):
    """Polls ``condition`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class CampaignApi:
    """Calls CampaignService exactly as the gateway does (client.call raises ServiceError with the API code)."""

    def __init__(self, settings: Settings, user_id: int | None = None) -> None:
        self.settings = settings
        self.user_id = user_id or new_user_id()
        self.stub = service_identity.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)

    def call(self, method: str, **fields):
        request_type = {
            "CreateCampaign": pb.CreateCampaignRequest, "ListCampaigns": pb.ListCampaignsRequest,
            "UpdateEmailTemplate": pb.UpdateEmailTemplateRequest,
            "UpdateSmsTemplate": pb.UpdateSmsTemplateRequest, "StartUpload": pb.StartUploadRequest,
            "CompleteUpload": pb.CompleteUploadRequest, "GetJob": pb.GetJobRequest,
            "SetJobStatus": pb.SetJobStatusRequest, "SendCampaign": pb.SendCampaignRequest,
            "UpdateTelegramTemplate": pb.UpdateSmsTemplateRequest, "FindCredential": pb.FindCredentialRequest,
            "ListCredentials": pb.ListCredentialsRequest, "AssignCredential": pb.AssignCredentialRequest,
            "DeleteCredential": pb.DeleteCredentialRequest, "StoreSealedCredential": pb.StoreSealedCredentialRequest,
            "UpdateCampaign": pb.UpdateCampaignRequest, "DuplicateCampaign": pb.DuplicateCampaignRequest,
            "SendTestEmail": pb.SendTestEmailRequest,
        }.get(method, pb.CampaignRef)
        if request_type not in (pb.GetJobRequest, pb.SetJobStatusRequest):
            fields.setdefault("user_id", self.user_id)
        return client.call(getattr(self.stub, method), request_type(**fields))

    def create(self, name: str = "Appointment reminders", channel: str = "EMAIL") -> int:
        return self.call("CreateCampaign", name=name, type=channel).id

    def get(self, campaign_id: int) -> pb.Campaign:
        return self.call("GetCampaign", campaign_id=campaign_id)

    def status(self, campaign_id: int) -> pb.UploadStatus:
        return self.call("GetUploadStatus", campaign_id=campaign_id)

    def save_template(self, campaign_id: int, body: str = TEMPLATE_BODY, subject: str = "Your appointment",
                      **extra) -> pb.UpdateTemplateResponse:
        return self.call("UpdateEmailTemplate", campaign_id=campaign_id, subject=subject, body=body, **extra)

    def start_upload(self, campaign_id: int) -> tuple[str, str]:
        """(object key, transaction id) of a new upload."""
        started = self.call("StartUpload", campaign_id=campaign_id, mime_type="text/csv", md5="")
        return urlparse(started.presigned_url).path.rsplit("/", 1)[1], started.transaction_id

    def put_file(self, key: str, source: Path | bytes) -> None:
        """What the gateway's PUT route does: the file lands in the local store under its key."""
        target = self.settings.upload_dir / key
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)

    def upload(self, campaign_id: int, source: Path | bytes | str, filename: str | None = None) -> pb.UploadStatus:
        """Uploads a file (a testdata name, a path or bytes) and waits until it has been processed."""
        if isinstance(source, str):
            source = TESTDATA / source
        key, transaction_id = self.start_upload(campaign_id)
        self.put_file(key, source)
        name = filename or (source.name if isinstance(source, Path) else "recipients.csv")
        self.call("CompleteUpload", campaign_id=campaign_id, transaction_id=transaction_id, filename=name)
        return self.wait_processed(campaign_id)

    def wait_processed(self, campaign_id: int) -> pb.UploadStatus:
        def processed() -> pb.UploadStatus | None:
            status = self.status(campaign_id)
            return None if status.is_csv_processing else status

        return wait_until(processed)
