"""Property-based fuzzing of every /v1 operation against the document the gateway serves (schemathesis): with a
valid API key, whatever hypothesis makes of each operation's parameters and bodies (valid ones, the document's
examples, and invalid ones), no answer is a 5xx and every answer conforms to the document: a documented status, a
documented content type, a body matching its schema, and documented headers.

Random campaign ids only ever reach the "not found" answer, so the routes of a campaign are also fuzzed on real
campaigns of the fuzzing user (with a template and recipients): their bodies and query parameters then reach the
campaign service's own checks.

Bounded for CI: a few examples per operation, derandomized (the same cases every run), no time deadline (an
operation may wait on a fake provider). The operations are listed from the document itself, so an operation added
to it is fuzzed without touching this file.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from postman_auth import users
from postman_gateway.openapi import build_document
from tests.conftest import TESTDATA
from tests.contract.conformance import ContractClient
from tests.contract.flows import create_campaign, upload

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES_PER_OPERATION = 30
OPERATIONS = sorted((method.upper(), path) for path, item in build_document()["paths"].items()
                    if path.startswith("/v1/") for method in item)


@pytest.fixture(scope="module")
def api_schema(contract_app):
    return schemathesis.openapi.from_wsgi("/v1/openapi.json", contract_app)


@pytest.fixture(scope="module")
def fuzzer(new_caller, module_database):
    """The fuzzing user, allowed many sends per second: the send limit's 429 would otherwise answer most sends
    before their input is read."""
    caller = new_caller()
    with module_database.unit_of_work() as session:
        users.set_rate_limit(session, caller.email, users.MAX_RATE_LIMIT, ip="127.0.0.1")
    return caller


@pytest.fixture(scope="module")
def setup_client(api):
    """A checked client whose calls do not count as the contract suite's coverage."""
    return ContractClient(api.client, api.document, driven=set())


@pytest.fixture(scope="module")
def campaigns(setup_client, fuzzer):
    """One campaign of each channel of the fuzzing user, with a template and recipients: {channel: id}."""
    api = setup_client
    templates = {"email": {"subject": "Hello {{name}}", "body": "<p>Dear {{name}}</p>", "reply_to": None,
                           "from": "Postman <donotreply@mail.postman.gov.sg>"},
                 "sms": {"body": "Dear {{name}}"}, "telegram": {"body": "Dear {{name}}"}}
    files = {"email": "email_basic.csv", "sms": "sms_sg_numbers.csv", "telegram": "sms_sg_numbers.csv"}
    made = {}
    for channel, template in templates.items():
        campaign_id = create_campaign(api, fuzzer.headers, channel.upper(), f"Fuzzed {channel}")
        assert api.put(f"/v1/campaign/{campaign_id}/{channel}/template", headers=fuzzer.headers,
                       json=template).status_code == 200
        upload(api, fuzzer.headers, campaign_id, channel, (TESTDATA / files[channel]).read_bytes())
        made[channel] = campaign_id
    return made


def real_campaign(api, fuzzer, campaigns, method, path):
    """The campaignId of a real campaign for this operation: the channel's own; a fresh draft for the routes of
    /v1/campaigns/{campaignId} (DELETE would otherwise take a campaign the other operations use)."""
    if path.startswith("/v1/campaign/"):
        return str(campaigns[path.split("/")[4]])
    fresh = create_campaign(api, fuzzer.headers, "EMAIL", "Fuzzed draft")
    return fresh if method == "DELETE" else str(fresh)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_as_its_document_says(api_schema, setup_client, fuzzer, campaigns, method, path):
    operation = api_schema[path][method]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
                  *api_schema.get_strategies_from_examples(operation)]
    if "{campaignId}" in path:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={
            "campaignId": real_campaign(setup_client, fuzzer, campaigns, method, path)}))
    cases = st.one_of(*strategies)

    @given(case=cases)
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(headers=fuzzer.headers, checks=CHECKS)

    answers_as_documented()
