"""A small client of the public API, the way an integration would call it (used by e2e tests and benchmarks)."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import requests


class ApiError(AssertionError):
    pass


@dataclass
class PostmanApi:
    base_url: str  # e.g. http://127.0.0.1:8080
    api_key: str

    def __post_init__(self) -> None:
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.api_key}"

    def _check(self, response: requests.Response, *expected: int) -> Any:
        if response.status_code not in expected:
            raise ApiError(f"{response.request.method} {response.url} -> {response.status_code}: {response.text}")
        return response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None

    def create_campaign(self, name: str, channel: str = "EMAIL") -> int:
        body = self._check(self.http.post(f"{self.base_url}/v1/campaigns", json={"name": name, "type": channel}),
                           201)
        return int(body["id"])

    def campaign_url(self, campaign_id: int, channel: str = "email") -> str:
        return f"{self.base_url}/v1/campaign/{campaign_id}/{channel}"

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        """Any call: ``path`` under the base URL (``/v1/...``); fails unless the status is ``expected``."""
        return self._check(self.http.request(method, f"{self.base_url}{path}", **kwargs), expected)

    def set_template(self, campaign_id: int, subject: str, body: str, reply_to: str | None = None,
                     show_logo: bool | None = None) -> Any:
        template = {"subject": subject, "body": body, "reply_to": reply_to,
                    "from": "Postman <donotreply@mail.postman.gov.sg>"}
        if show_logo is not None:
            template["show_logo"] = show_logo
        return self._check(self.http.put(f"{self.campaign_url(campaign_id)}/template", json=template), 200)

    def upload(self, campaign_id: int, content: bytes, filename: str = "recipients.csv",
               channel: str = "email") -> None:
        md5 = base64.b64encode(hashlib.md5(content).digest()).decode()  # noqa: S324 - Content-MD5 is MD5
        start = self._check(
            self.http.get(f"{self.campaign_url(campaign_id, channel)}/upload/start",
                          params={"mime_type": "text/csv", "md5": md5}),
            200,
        )
        put = requests.put(start["presigned_url"], data=content,
                           headers={"Content-Type": "text/csv", "Content-MD5": md5}, timeout=300)
        if put.status_code != 200:
            raise ApiError(f"PUT presigned URL -> {put.status_code}: {put.text}")
        self._check(
            self.http.post(f"{self.campaign_url(campaign_id, channel)}/upload/complete",
                           json={"transaction_id": start["transaction_id"], "filename": filename,
                                 "etag": put.headers.get("ETag")}),
            202,
        )

    def wait_for_upload(self, campaign_id: int, timeout: float = 300.0, channel: str = "email") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._check(self.http.get(f"{self.campaign_url(campaign_id, channel)}/upload/status"), 200)
            if not status.get("is_csv_processing"):
                return dict(status)
            time.sleep(0.05)
        raise ApiError(f"upload of campaign {campaign_id} still processing after {timeout}s")

    def send(self, campaign_id: int, channel: str = "email", **body: Any) -> Any:
        if channel == "email":  # the client posts no body for email
            return self._check(self.http.post(f"{self.campaign_url(campaign_id)}/send"), 200)
        return self._check(self.http.post(f"{self.campaign_url(campaign_id, channel)}/send", json=body), 200)

    def stats(self, campaign_id: int, channel: str = "email") -> dict[str, Any]:
        return dict(self._check(self.http.get(f"{self.campaign_url(campaign_id, channel)}/stats"), 200))

    def wait_for_status(self, campaign_id: int, status: str = "LOGGED", timeout: float = 300.0,
                        poll: float = 0.1, channel: str = "email") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        stats: dict[str, Any] = {}
        while time.monotonic() < deadline:
            stats = self.stats(campaign_id, channel)
            if stats.get("status") == status:
                return stats
            time.sleep(poll)
        raise ApiError(f"campaign {campaign_id} not {status} after {timeout}s: {stats}")

    def export(self, campaign_id: int, channel: str = "email") -> list[dict[str, Any]]:
        return list(self._check(self.http.get(f"{self.campaign_url(campaign_id, channel)}/export"), 200))
