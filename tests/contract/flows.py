"""Requests as the generated client (typescript-axios) writes them, for the contract tests: bodiless POSTs with
axios' form content type, `{}` for an optional body left out, the recipient upload through the presigned URL."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tests.contract.conformance import ContractClient

FORM = "application/x-www-form-urlencoded"
FROM = "Postman <donotreply@mail.postman.gov.sg>"


def bodiless_post(api: ContractClient, url: str, headers: dict[str, str]) -> Any:
    """A POST "with no data": axios 1.x still says ``Content-Type: application/x-www-form-urlencoded``."""
    return api.post(url, headers=headers, data=b"", content_type=FORM)


def empty_json_post(api: ContractClient, url: str, headers: dict[str, str]) -> Any:
    """An optional body the caller left out: the client sends ``{}`` as JSON."""
    return api.post(url, headers=headers, data=b"{}", content_type="application/json")


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        time.sleep(0.05)


def create_campaign(api: ContractClient, headers: dict[str, str], channel: str, name: str = "Reminders") -> int:
    created = api.post("/v1/campaigns", headers=headers, json={"name": name, "type": channel})
    assert created.status_code == 201, created.json
    assert created.json["type"] == channel and created.json["name"] == name and created.json["protect"] is False
    return int(created.json["id"])


def upload(api: ContractClient, headers: dict[str, str], campaign_id: int, channel: str, content: bytes,
           filename: str = "recipients.csv") -> dict[str, Any]:
    """Typical flow steps 3 to 6: upload/start, the PUT to the presigned URL, upload/complete, status polled."""
    md5 = base64.b64encode(hashlib.md5(content).digest()).decode()
    base = f"/v1/campaign/{campaign_id}/{channel}"  # the client passes campaignId as a string: "20"
    start = api.get(f"{base}/upload/start", headers=headers, query_string={"mime_type": "text/csv", "md5": md5})
    assert start.status_code == 200, start.json
    assert set(start.json) == {"presigned_url", "transaction_id"}
    parts = urlsplit(start.json["presigned_url"])
    put = api.put(f"{parts.path}?{parts.query}", data=content, headers={"Content-Type": "text/csv",
                                                                        "Content-MD5": md5})
    assert put.status_code == 200 and put.headers["ETag"], put.get_data(as_text=True)
    complete = api.post(f"{base}/upload/complete", headers=headers,
                        json={"transaction_id": start.json["transaction_id"], "filename": filename,
                              "etag": put.headers["ETag"]})
    assert complete.status_code == 202 and complete.json == {"id": str(campaign_id)}, complete.json
    status = poll(lambda: api.get(f"{base}/upload/status", headers=headers),
                  lambda r: r.status_code != 200 or not r.json["is_csv_processing"], f"{filename} to be processed")
    assert status.status_code == 200, status.json
    return status.json  # type: ignore[no-any-return]


def wait_until_logged(api: ContractClient, headers: dict[str, str], campaign_id: int, channel: str) -> dict[str, Any]:
    stats = poll(lambda: api.get(f"/v1/campaign/{campaign_id}/{channel}/stats", headers=headers),
                 lambda r: r.status_code != 200 or r.json["status"] == "LOGGED", f"campaign {campaign_id} to be "
                                                                                  "LOGGED")
    assert stats.status_code == 200, stats.json
    return stats.json  # type: ignore[no-any-return]
