"""Every operation of the document the gateway serves, fuzzed (schemathesis) by callers who should get nothing.

1. Nobody: no API key, no session cookie. A protected operation answers 401 whatever the request looks like
   (``PUBLIC`` lists the operations anyone may call, and which of them may succeed without the secret they ask
   for); nothing answers 5xx.
2. Another officer: user B's API key (and, for the routes only a session may use, B's session) on user A's
   campaigns, transactional messages, API key and sender address, A's ids as the path parameters and hypothesis
   making the rest. Nothing answers 5xx; an operation on A's resource never succeeds; no answer carries A's
   data (every resource of A carries a canary, and A's address is known); A's campaigns are unchanged after each
   operation was fuzzed.

Bounded for CI (about a minute for the file on two busy cores): a few derandomized examples per operation, no
deadline. The operations come from the document, so a new operation is fuzzed here without touching this file; a new
public one fails ``test_the_public_operations_are_the_documents_unauthenticated_ones`` until it is in ``PUBLIC``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from postman_auth import api_keys, sessions, users
from postman_auth.models import SenderAddress, User
from postman_gateway.core.sessions import SESSION_COOKIE
from postman_gateway.openapi import build_document
from postman_shared.db import Database
from tests.contract.conformance import ContractClient, Document

# The contract suite's system (every service in-process, the gateway's app, users with keys), used as fixtures here.
from tests.contract.conftest import (  # noqa: F401
    TWILIO_ACCOUNT,
    Caller,
    contract_app,
    contract_settings,
    module_database,
    new_caller,
    system,
    telegram,
    twilio,
)
from tests.contract.flows import FROM, bodiless_post, create_campaign, upload, wait_until_logged

EXAMPLES_PER_OPERATION = 15
DOCUMENT = build_document()
OPERATIONS = sorted((method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item)
OPERATION_IDS = [f"{method} {path}" for method, path in OPERATIONS]

# Who may call without an API key or a session: (method, path) -> whether a request without the secret the operation
# asks for instead (a one-time password, a link's HMAC, a password's proof, a presigned URL's signature) may succeed.
PUBLIC = {
    ("GET", "/v1/ping"): True,
    ("GET", "/v1/openapi.json"): True,
    ("POST", "/v1/auth/otp"): True,  # asks for a one-time password: the same answer whoever asks for whichever address
    ("POST", "/v1/auth/login"): False,
    ("PUT", "/v1/unsubscribe/{campaignId}/{recipient}"): False,
    ("DELETE", "/v1/unsubscribe/{campaignId}/{recipient}"): False,
    ("POST", "/v1/protect/{messageId}"): False,
    ("PUT", "/uploads/{key}"): False,
}
# Routes that refuse API keys (credentials are managed from a signed-in session only): B's session fuzzes them too.
SESSION_ONLY = ("/v1/api-key", "/v1/settings/email/from")


def is_success(status: int) -> bool:
    return 200 <= status < 300


def described(case: Any, response: Any) -> str:
    return f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:400]}"


def fuzz(strategies: list[Any], check: Callable[[Any], None]) -> None:
    """Runs ``check`` on the cases of ``strategies``: bounded, derandomized (the same cases every run)."""

    @given(case=st.one_of(*strategies))
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        check(case)

    run()


def without_credentials(app: Flask) -> Any:
    """The served document, generating no security parameters: no ``Authorization`` header, no session cookie."""
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)
    return schema


def test_the_public_operations_are_the_documents_unauthenticated_ones():
    unauthenticated = {(method.upper(), path) for path, item in DOCUMENT["paths"].items()
                       for method, operation in item.items() if operation.get("security") == []}
    assert unauthenticated == set(PUBLIC)


# 1. Nobody ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def anonymous_schema(contract_app):  # noqa: F811
    return without_credentials(contract_app)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=OPERATION_IDS)
def test_without_credentials_only_public_operations_answer(anonymous_schema, method, path):
    operation = anonymous_schema[path][method]
    public, may_succeed = (method, path) in PUBLIC, PUBLIC.get((method, path), False)

    def check(case: Any) -> None:
        assert "Authorization" not in (case.headers or {}) and not case.cookies
        response = case.call()
        assert response.status_code < 500, described(case, response)
        if not public:
            assert response.status_code == 401, described(case, response)
        elif not may_succeed:
            assert not is_success(response.status_code), described(case, response)

    fuzz([operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
          *anonymous_schema.get_strategies_from_examples(operation)], check)


# 2. Another officer ------------------------------------------------------------------------------------------------

@dataclass
class Owner:
    """User A and what A has: each resource's id, and what in an answer would be A's data."""

    caller: Caller
    canary: str
    campaigns: dict[str, list[int]] = field(default_factory=dict)  # channel -> A's campaigns of that channel
    email_id: str = ""
    sms_id: str = ""
    api_key_id: int = 0
    sender_id: int = 0
    recipient: str = ""

    @property
    def secrets_in_answers(self) -> tuple[str, ...]:
        return (self.canary, self.caller.email)

    def all_campaigns(self) -> list[int]:
        return [campaign for ids in self.campaigns.values() for campaign in ids]

    def path_parameters(self, method: str, path: str) -> list[dict[str, Any]]:
        """A's ids for the operation's path parameters: one set per resource of A it can name (none: the operation
        names no resource of A)."""
        parts = path.split("/")
        if path.startswith("/v1/campaign/{campaignId}/"):
            return [{"campaignId": str(campaign)} for campaign in self.campaigns[parts[4]]]
        if path.startswith("/v1/campaigns/{campaignId}"):  # DELETE's campaignId is an integer in the document
            return [{"campaignId": campaign if method == "DELETE" else str(campaign)}
                    for campaign in self.all_campaigns()]
        if path.startswith("/v1/unsubscribe/"):
            return [{"campaignId": str(self.campaigns["email"][-1]), "recipient": self.recipient}]
        named = {"/v1/transactional/email/{emailId}": {"emailId": self.email_id},
                 "/v1/transactional/sms/{smsId}": {"smsId": self.sms_id},
                 "/v1/api-key/{id}": {"id": str(self.api_key_id)},
                 "/v1/settings/email/from/{id}": {"id": str(self.sender_id)}}
        return [named[path]] if path in named else []


def email_recipient(canary: str, n: int) -> str:
    """Without the canary: a caller naming it in an unsubscribe link gets it echoed back, which is no leak."""
    return f"recipient{n}-{canary[::-1]}@agency.gov.sg"


def recipients_csv(canary: str, channel: str) -> bytes:
    if channel == "email":
        rows = [f"{email_recipient(canary, n)},Canary {canary} {n}" for n in range(3)]
    else:
        rows = [f"+65 9123 456{n},Canary {canary} {n}" for n in range(3)]
    return ("recipient,name\n" + "\n".join(rows) + "\n").encode()


def make_owner(api: ContractClient, database: Database, caller: Caller) -> Owner:
    """A with a campaign of each channel (template and recipients: what a preview, a list or an export would show),
    a sent email campaign, a transactional email and SMS, and a sender address; every one carrying the canary."""
    owner = Owner(caller, canary=f"canary{secrets.token_hex(6)}")
    headers, canary = caller.headers, owner.canary
    templates = {"email": {"subject": f"{canary} {{{{name}}}}", "body": f"<p>{canary} {{{{name}}}}</p>",
                         "reply_to": None, "from": FROM},
                 "sms": {"body": f"{canary} {{{{name}}}}"}, "telegram": {"body": f"{canary} {{{{name}}}}"}}
    for channel, template in templates.items():
        for _ in range(2 if channel == "email" else 1):
            campaign = create_campaign(api, headers, channel.upper(), f"{canary} {channel}")
            assert api.put(f"/v1/campaign/{campaign}/{channel}/template", headers=headers,
                           json=template).status_code == 200
            upload(api, headers, campaign, channel, recipients_csv(canary, channel))
            owner.campaigns.setdefault(channel, []).append(campaign)
    sent = owner.campaigns["email"][-1]
    assert bodiless_post(api, f"/v1/campaign/{sent}/email/send", headers).status_code == 200
    wait_until_logged(api, headers, sent, "email")
    owner.recipient = email_recipient(canary, 0)

    email = api.post("/v1/transactional/email/send", headers=headers,
                     json={"subject": canary, "body": f"<p>{canary}</p>", "recipient": "someone@example.gov.sg"})
    assert email.status_code == 201, email.json
    owner.email_id = email.json["id"]
    sms_campaign = owner.campaigns["sms"][0]
    saved = api.post(f"/v1/campaign/{sms_campaign}/sms/new-credentials", headers=headers,
                     json={**TWILIO_ACCOUNT, "recipient": "+6587654321", "label": canary})
    assert saved.status_code == 200, saved.json
    sms = api.post("/v1/transactional/sms/send", headers=headers,
                   json={"body": canary, "recipient": "9123 4567", "label": canary})
    assert sms.status_code == 201, sms.json
    owner.sms_id = sms.json["id"]

    with database.unit_of_work() as session:
        [key] = api_keys.list_for_user(session, caller.user_id)
        owner.api_key_id = key.id
        sender = SenderAddress(user_id=caller.user_id, email=f"{canary}@agency.gov.sg", status="VERIFIED",
                               method="link", verified_at=datetime.now(timezone.utc))
        session.add(sender)
        session.flush()
        owner.sender_id = sender.id
    return owner


@pytest.fixture(scope="module")
def setup_client(contract_app):  # noqa: F811
    """A checked client whose calls do not count as the contract suite's coverage."""
    client = contract_app.test_client()
    return ContractClient(client, Document(client.get("/v1/openapi.json").json), driven=set())


@pytest.fixture(scope="module")
def owner(setup_client, module_database, new_caller):  # noqa: F811
    return make_owner(setup_client, module_database, new_caller())


@pytest.fixture(scope="module")
def intruder(new_caller, module_database):  # noqa: F811
    """User B: an API key, and a signed-in session (for the routes that refuse keys). Allowed many sends per second:
    the send limit's 429 would otherwise answer most sends before the campaign is looked up."""
    caller = new_caller()
    with module_database.unit_of_work() as session:
        users.set_rate_limit(session, caller.email, users.MAX_RATE_LIMIT, ip="127.0.0.1")
    with module_database.unit_of_work() as session:
        user = session.get(User, caller.user_id)
        token, _ = sessions.start(session, user, ip="127.0.0.1", user_agent="fuzz", valid_for=timedelta(hours=1),
                                  now=datetime.now(timezone.utc))
    return caller, token


@pytest.fixture(scope="module")
def intruder_schema(contract_app):  # noqa: F811
    return without_credentials(contract_app)


def campaigns_as_seen_by(api: ContractClient, owner: Owner) -> dict[int, Any]:
    seen = {}
    for channel, campaigns in owner.campaigns.items():
        for campaign in campaigns:
            details = api.get(f"/v1/campaign/{campaign}/{channel}", headers=owner.caller.headers)
            assert details.status_code == 200, details.json
            seen[campaign] = details.json
    return seen


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=OPERATION_IDS)
def test_another_officer_gets_nothing_of_the_owners(intruder_schema, setup_client, owner, intruder, method, path):
    operation = intruder_schema[path][method]
    caller, session_token = intruder
    owned = owner.path_parameters(method, path)
    before = campaigns_as_seen_by(setup_client, owner) if owned else None
    identities = [{"headers": caller.headers}]
    if path.startswith(SESSION_ONLY):
        identities.append({"cookies": {SESSION_COOKIE: session_token}})

    def check(case: Any) -> None:
        for identity in identities:
            response = case.call(**identity)
            assert response.status_code < 500, described(case, response)
            if owned:
                assert not is_success(response.status_code), described(case, response)
            leaked = [secret for secret in owner.secrets_in_answers if secret in response.text]
            assert not leaked, f"{described(case, response)}\nthe owner's data: {leaked}"

    # First the bare request (a list without filters, an id alone), then what hypothesis makes of the rest.
    if owned:
        for ids in owned:
            check(operation.Case(path_parameters=ids))
        strategies = [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids) for ids in owned]
    else:
        if "{" not in path:
            check(operation.Case())
        strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
                      *intruder_schema.get_strategies_from_examples(operation)]
    fuzz(strategies, check)
    if owned:
        assert campaigns_as_seen_by(setup_client, owner) == before, "another officer changed the owner's campaigns"


def test_another_officer_cannot_send_with_the_owners_saved_credentials(setup_client, owner, intruder):
    """A saved credential is named by its label in the body, not the path: B naming A's label sends nothing."""
    caller, _ = intruder
    sms = setup_client.post("/v1/transactional/sms/send", headers=caller.headers,
                            json={"body": "hello", "recipient": "9123 4567", "label": owner.canary})
    assert sms.status_code in (400, 404), sms.json
    campaign = create_campaign(setup_client, caller.headers, "SMS", "Borrowed credentials")
    used = setup_client.post(f"/v1/campaign/{campaign}/sms/credentials", headers=caller.headers,
                             json={"label": owner.canary, "recipient": "+6587654321"})
    assert not is_success(used.status_code), used.json
