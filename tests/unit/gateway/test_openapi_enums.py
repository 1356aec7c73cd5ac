"""The OpenAPI document spells its enums out (they are the contract, written by hand in ``openapi/schemas.py`` and
``openapi/paths``); these tests keep them equal to the enums the code answers with, so a new error code or status
cannot reach the wire undocumented, nor a documented one be dropped from the code."""

from __future__ import annotations

from typing import Any

import pytest

from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.sender_address_status import SenderAddressStatus
from postman_gateway.openapi import build_document
from postman_shared.campaign_statuses import CampaignStatus, JobStatus
from postman_shared.grpc.errors import CODES
from postman_shared.transactional_statuses import TransactionalEmailStatus, TransactionalSmsStatus


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _error_codes_by_status(document: dict[str, Any]) -> dict[int, list[str]]:
    schemas = document["components"]["schemas"]
    return {int(name.removeprefix("Error").removesuffix("Response")): schema["properties"]["code"]["enum"]
            for name, schema in schemas.items() if name.startswith("Error") and name.endswith("Response")}


def test_the_documented_error_codes_are_the_gateways_error_codes(document: dict[str, Any]) -> None:
    documented = [code for codes in _error_codes_by_status(document).values() for code in codes]
    assert sorted(documented) == sorted(code.value for code in ErrorCode)


def test_each_error_code_is_documented_under_the_status_it_answers_with(document: dict[str, Any]) -> None:
    statuses = {code.value: status for code, (_grpc_status, status) in CODES.items()}
    for status, codes in _error_codes_by_status(document).items():
        assert {code: statuses[code] for code in codes} == dict.fromkeys(codes, status)


def test_the_campaign_list_filter_is_the_campaign_statuses(document: dict[str, Any]) -> None:
    [status] = [p for p in document["paths"]["/v1/campaigns"]["get"]["parameters"] if p["name"] == "status"]
    assert sorted(status["schema"]["enum"]) == sorted(CampaignStatus)


@pytest.mark.parametrize(("schema", "enum"), [
    ("JobStatus", JobStatus),
    ("EmailMessageTransactionalStatusEnum", TransactionalEmailStatus),
    ("SmsMessageTransactionalStatusEnum", TransactionalSmsStatus),
])
def test_a_documented_status_enum_is_the_codes(document: dict[str, Any], schema: str, enum: Any) -> None:
    assert document["components"]["schemas"][schema]["enum"] == [member.value for member in enum]


def test_a_sender_addresss_documented_status_is_the_gateways(document: dict[str, Any]) -> None:
    status = document["components"]["schemas"]["SenderAddress"]["properties"]["status"]
    assert sorted(status["enum"]) == sorted(SenderAddressStatus)
