"""The officers' pages share the API's per-user limit (``API_RATE_LIMIT``), and a page that takes a form refuses a
body larger than a form can be, before reading it (413). Real auth and campaign services, in process."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from postman.v1 import suppression_pb2, suppression_pb2_grpc
from postman_gateway.web.pages import MAX_FORM_BYTES
from postman_shared.grpc import client
from tests.integration.web.conftest import csrf_token
from tests.support import service_identity
from tests.support.inprocess import running


@pytest.fixture
def settings(settings):
    return replace(settings, api_rate_limit=3)


@pytest.fixture(autouse=True)
def services(settings):
    with running(settings, "auth", "campaign"):
        yield


def test_an_officer_over_the_per_user_limit_gets_a_page_that_says_so(web_sign_in):
    officer = web_sign_in()

    statuses = [officer.client.get("/suppressions") for _ in range(10)]

    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    refused = next(r for r in statuses if r.status_code != 200)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert "Too many requests" in refused.get_data(as_text=True)


def test_a_form_larger_than_a_form_can_be_is_refused_before_it_is_read(web_sign_in, settings):
    officer = web_sign_in()
    token = csrf_token(officer.client.get("/suppressions/new"))
    address = f"too-long-{secrets.token_hex(4)}@example.com"

    response = officer.client.post("/suppressions/new", data={"csrf_token": token, "channel": "EMAIL",
                                                              "recipient": address,
                                                              "detail": "x" * (MAX_FORM_BYTES + 1)})

    assert response.status_code == 413 and response.mimetype == "text/html"
    stub = service_identity.stub(settings.campaign_addr, suppression_pb2_grpc.SuppressionServiceStub)
    found = client.call(stub.ListSuppressions, suppression_pb2.ListSuppressionsRequest(recipient=address))
    assert list(found.entries) == []
