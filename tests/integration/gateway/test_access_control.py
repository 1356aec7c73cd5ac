"""Who may call what, checked over every route the app declares: a new route without the check fails here.

Callers are API keys and signed-in sessions; a second user presenting the first user's ids gets 404 and changes
nothing, whichever way they authenticate.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from postman_campaign.models import Job
from postman_gateway.app import create_app
from postman_shared.credentials import new_master_key
from postman_shared.timestamps import utcnow
from tests.conftest import settings_for
from tests.integration.gateway.conftest import new_address, one_time_password
from tests.support.inprocess import running

# Upstream's unsubscribe API takes no key: the link's signature in the body (h, v) is its credential, checked by
# tests/integration/gateway/test_unsubscribe.py (a forged or altered one is 400 and changes nothing).
UNSUBSCRIBE_API = "/v1/unsubscribe/<int:campaign_id>/<path:recipient>"
# Upstream's protect API takes no key: the proof derived from the recipient's password is its credential, checked by
# tests/integration/gateway/test_protected_email.py (a wrong proof and an unknown id alike are 403, counted, locked).
PROTECT_API = "/v1/protect/<messageId>"
PUBLIC = {"/v1/ping", "/v1/openapi.json", "/v1/auth/otp", "/v1/auth/login", UNSUBSCRIBE_API, PROTECT_API}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
CAMPAIGN_PREFIX = "/v1/campaign/<campaign_id>/"
API_KEY_PREFIX = "/v1/api-key"
# Routes that take no id: they can only ever act on the caller's own data (the user id comes from the credential).
CALLERS_OWN = {"/v1/campaigns", "/v1/auth/userinfo", "/v1/auth/logout", "/v1/api-key", "/v1/transactional/sms",
               "/v1/transactional/sms/send", "/v1/transactional/email", "/v1/transactional/email/send",
               "/v1/settings/email/from", "/v1/settings/email/from/verify", "/v1/templates"}
# The caller's sender addresses (session only, like /v1/api-key): another user's address id is 404 and unchanged,
# checked by test_removing_another_users_sender_address_is_404_and_it_stays below.
SENDERS_PREFIX = "/v1/settings/email/from"
SENDERS_BY_ID = {"/v1/settings/email/from/<sender_id>"}
# Routes reading one transactional message by id: another user's id is 404 (the sender checks the owner), shown by
# tests/integration/gateway/test_transactional_sms.py and test_transactional_email.py (they need a sent message).
TRANSACTIONAL_BY_ID = {"/v1/transactional/sms/<sms_id>", "/v1/transactional/email/<email_id>"}
# Routes acting on one campaign by id outside the per-channel prefix: another user's campaign is 404 and unchanged,
# checked by test_campaign_management_routes_are_404_for_another_users_campaign below.
CAMPAIGNS_BY_ID = {"/v1/campaigns/<campaign_id>", "/v1/campaigns/<campaign_id>/cancel"}
# Saved templates (an extension, issue 18), by template id or from a campaign: another user's template or campaign is
# 404 and unchanged, checked by test_saved_template_routes_are_404_for_another_users_template below.
SAVED_TEMPLATES_BY_ID = {"/v1/templates/<template_id>", "/v1/campaigns/<campaign_id>/template/save-as"}
# The caller's client webhooks, by kind (no id: stats keys every call by the caller's user id); another user's are
# neither seen nor changed, checked by test_client_webhook_routes_never_reach_another_users_webhook below.
WEBHOOKS_PREFIX = "/v1/settings/webhooks"
WEBHOOK_ROUTES = {WEBHOOKS_PREFIX, WEBHOOKS_PREFIX + "/<kind>", WEBHOOKS_PREFIX + "/<kind>/secret",
                  WEBHOOKS_PREFIX + "/<kind>/deliveries", WEBHOOKS_PREFIX + "/<kind>/test"}
# Routes outside /v1 take no API key or session: each checks a credential of its own that Postman made for the one
# caller that uses it. A new route outside /v1 needs an entry: a request that lacks the credential, and the refusal.
OUTSIDE_V1 = {
    ("GET", "/docs"): None,  # the API reference page, rendered from the public OpenAPI document
    ("GET", "/docs/static/<path:filename>"): None,  # its stylesheet
    ("PUT", "/uploads/<key>"): ("/uploads/probe?expires=9999999999&md5=x&signature=forged", 403),  # URL HMAC
    ("POST", "/telegram/webhook/<int:credential_id>"): ("/telegram/webhook/1", 401),  # secret-token header
    ("POST", "/callbacks/twilio/sms/c/<int:campaign_id>/<int:recipient_id>/<int:credential_id>/<sig>"):
        ("/callbacks/twilio/sms/c/1/2/3/forged", 403),  # URL HMAC
    ("POST", "/callbacks/twilio/sms/t/<int:sms_id>/<int:credential_id>/<sig>"):
        ("/callbacks/twilio/sms/t/1/3/forged", 403),  # URL HMAC
    ("POST", "/callbacks/ses/events"): ("/callbacks/ses/events", 403),  # SNS signature of an allowed topic
    # A recipient's unsubscribe link: the HMAC of campaign and recipient in its query (a forged one changes nothing;
    # the form's POST also needs its CSRF token, the one-click POST only the link).
    ("GET", "/unsubscribe/<int:campaign_id>/<path:recipient>"): ("/unsubscribe/1/a@example.gov.sg?v=dev1&h=f0", 400),
    ("POST", "/unsubscribe/<int:campaign_id>/<path:recipient>"): ("/unsubscribe/1/a@example.gov.sg?v=dev1&h=f0", 400),
    # A protected email's link: the page holds no secret (the key derivation's parameters, stand-ins for an unknown
    # id); the message needs the password's proof at POST /v1/protect/<id>. A malformed link is refused.
    ("GET", "/p/<int:version>/<message_id>"): ("/p/1/forged", 404),
    # A sender address's confirmation link: its single-use token is the credential (a forged one shows the "does
    # not work" page and confirms nothing; the page's POST also needs its CSRF token).
    ("GET", "/sender-addresses/confirm"): ("/sender-addresses/confirm?token=1.forged", 400),
    ("POST", "/sender-addresses/confirm"): ("/sender-addresses/confirm", 400),
}

# Inputs that pass the gateway's own validation, so a request reaches the owner check of the owning service.
# A new route that validates its input needs an entry here.
SAMPLE_INPUT = {
    ("PUT", CAMPAIGN_PREFIX + "email/template"): {
        "json": {"subject": "Hello {{name}}", "body": "Dear {{name}}", "reply_to": None,
                 "from": "Postman <donotreply@mail.postman.gov.sg>"}},
    ("GET", CAMPAIGN_PREFIX + "email/upload/start"): {
        "query_string": {"mime_type": "text/csv", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
    ("POST", CAMPAIGN_PREFIX + "email/upload/complete"): {
        "json": {"transaction_id": "00000000-0000-0000-0000-000000000000", "filename": "list.csv"}},
    ("GET", CAMPAIGN_PREFIX + "email/protect/upload/start"): {
        "query_string": {"mime_type": "text/csv", "part_count": 2}},
    ("POST", CAMPAIGN_PREFIX + "email/protect/upload/complete"): {
        "json": {"transaction_id": "00000000-0000-0000-0000-000000000000", "filename": "list.csv", "part_count": 1,
                 "etags": ['"d41d8cd98f00b204e9800998ecf8427e"']}},
    ("PUT", CAMPAIGN_PREFIX + "sms/template"): {"json": {"body": "Dear {{name}}"}},
    ("GET", CAMPAIGN_PREFIX + "sms/upload/start"): {
        "query_string": {"mime_type": "text/csv", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
    ("POST", CAMPAIGN_PREFIX + "sms/upload/complete"): {
        "json": {"transaction_id": "00000000-0000-0000-0000-000000000000", "filename": "list.csv"}},
    ("PUT", CAMPAIGN_PREFIX + "telegram/template"): {"json": {"body": "Dear {{name}}"}},
    ("GET", CAMPAIGN_PREFIX + "telegram/upload/start"): {
        "query_string": {"mime_type": "text/csv", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
    ("POST", CAMPAIGN_PREFIX + "telegram/upload/complete"): {
        "json": {"transaction_id": "00000000-0000-0000-0000-000000000000", "filename": "list.csv"}},
    ("POST", CAMPAIGN_PREFIX + "telegram/new-credentials"): {"json": {"telegram_bot_token": "1:x", "label": "x"}},
    ("POST", CAMPAIGN_PREFIX + "telegram/credentials/verify"): {"json": {"recipient": "+6591234567"}},
    ("POST", CAMPAIGN_PREFIX + "telegram/credentials"): {"json": {"label": "x"}},
    ("POST", CAMPAIGN_PREFIX + "sms/credentials"): {"json": {"label": "x", "recipient": "+6591234567"}},
    ("POST", CAMPAIGN_PREFIX + "email/credentials"): {"json": {"recipient": "intruder@agency.gov.sg"}},
    ("POST", CAMPAIGN_PREFIX + "email/duplicate"): {"json": {"name": "Intruder's copy"}},
    ("POST", CAMPAIGN_PREFIX + "sms/duplicate"): {"json": {"name": "Intruder's copy"}},
    ("POST", CAMPAIGN_PREFIX + "email/send"): {"json": {"scheduledTiming": "2099-01-01T00:00:00Z"}},
    ("PUT", "/v1/campaigns/<campaign_id>"): {"json": {"name": "Intruder's name", "should_save_list": True}},
    ("POST", "/v1/api-key"): {"json": {"label": "intruder's"}},
    ("POST", "/v1/settings/email/from/verify"): {"json": {"email": "intruder@agency.gov.sg"}},
    ("POST", "/v1/campaigns"): {"json": {"name": "Intruder's", "type": "EMAIL"}},
    ("PUT", WEBHOOKS_PREFIX + "/<kind>"): {"json": {"url": "http://127.0.0.1:9/intruder"}},
    ("POST", "/v1/templates"): {"json": {"name": "Intruder's", "channel": "SMS", "body": "Hi {{name}}"}},
    ("PUT", "/v1/templates/<template_id>"): {"json": {"name": "Intruder's", "channel": "SMS", "body": "Hi"}},
    ("POST", "/v1/campaigns/<campaign_id>/template/save-as"): {"json": {"name": "Intruder's"}},
}


@pytest.fixture
def settings(module_settings):
    """The module's settings: its tests share the services, started once (each test has its own app and users)."""
    return module_settings


@pytest.fixture
def pipeline(module_pipeline):
    """The module's pipeline."""


@pytest.fixture
def auth_service(module_pipeline):
    """The module's pipeline, which has the auth service (a second auth service would share its port)."""


@pytest.fixture
def own_settings(stores, tmp_path):
    """Settings of the test's own (folders and ports), for a test that changes them and starts its own services."""
    return settings_for(stores, tmp_path)



def api_routes(app):
    """(method, rule) of every /v1 route that needs a caller."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/") and rule.rule not in PUBLIC
        for method in rule.methods - IGNORED_METHODS
    )


def campaign_routes(app):
    return [(method, rule) for method, rule in api_routes(app) if rule.startswith(CAMPAIGN_PREFIX)]


def api_key_routes(app):
    return [(method, rule) for method, rule in api_routes(app) if rule.startswith(API_KEY_PREFIX)]


def campaigns_by_id_routes(app):
    return [(method, rule) for method, rule in api_routes(app) if rule in CAMPAIGNS_BY_ID]


def sender_routes(app):
    return [(method, rule) for method, rule in api_routes(app) if rule.startswith(SENDERS_PREFIX)]


def url_of(rule, campaign_id=1, key_id=1, sender_id=1, kind="transactional", template_id=1):
    return (rule.replace("<campaign_id>", str(campaign_id)).replace("<key_id>", str(key_id))
            .replace("<sender_id>", str(sender_id)).replace("<kind>", kind)
            .replace("<template_id>", str(template_id)))


def call_every(client, routes, headers=None, **ids):
    """{(method, rule): (status, code)} for one request to each route."""
    answered = {}
    for method, rule in routes:
        response = client.open(url_of(rule, **ids), method=method, headers=headers or {},
                               **SAMPLE_INPUT.get((method, rule), {}))
        answered[(method, rule)] = (response.status_code, (response.json or {}).get("code")
                                    if response.is_json and isinstance(response.json, dict) else None)
    return answered


def test_every_route_is_public_or_checked_by_this_matrix(settings):
    """A route with an id must be one of the families whose ownership the tests below check."""
    routes = {rule for _, rule in api_routes(create_app(settings))}
    unchecked = {r for r in routes if r not in CALLERS_OWN | TRANSACTIONAL_BY_ID | CAMPAIGNS_BY_ID | SENDERS_BY_ID
                 | WEBHOOK_ROUTES | SAVED_TEMPLATES_BY_ID and not r.startswith((CAMPAIGN_PREFIX, API_KEY_PREFIX))}
    assert {r for r in routes if r.startswith(WEBHOOKS_PREFIX)} == WEBHOOK_ROUTES
    assert unchecked == set()
    assert len([r for r in routes if r.startswith(CAMPAIGN_PREFIX + "email")]) == 17
    assert len([r for r in routes if r.startswith(CAMPAIGN_PREFIX + "sms")]) == 16
    assert len([r for r in routes if r.startswith(CAMPAIGN_PREFIX + "telegram")]) == 16
    assert CAMPAIGNS_BY_ID <= routes
    assert SAVED_TEMPLATES_BY_ID <= routes
    assert {"/v1/api-key", "/v1/api-key/<key_id>", "/v1/auth/userinfo", "/v1/auth/logout"} <= routes
    assert {rule for _, rule in sender_routes(create_app(settings))} == {SENDERS_PREFIX, SENDERS_PREFIX + "/verify",
                                                                         *SENDERS_BY_ID}


# The officers' web pages (postman_gateway.web) sit outside /v1 too; signed-in pages are checked by the next test,
# and these are the ones that must work signed out.
WEB_PUBLIC = {"home", "web_assets.static"}
WEB_PUBLIC_BLUEPRINTS = {"sign_in", "outbox"}  # the outbox pages check the session (or the development rule) in views


def web_endpoint(endpoint: str) -> bool:
    blueprint = endpoint.split(".", 1)[0] if "." in endpoint else ""
    return endpoint == "home" or blueprint in {"web_assets", "sign_in", "outbox", "campaign_list", "campaign",
                                               "email_frame", "campaign_sent", "settings", "sender_settings",
                                               "suppression", "webhook_settings", "saved_template_pages"}


_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<arguments>[^)]*)\))?:)?(?P<name>\w+)>")


def sample_url(rule) -> str:
    """A URL of a page rule with every variable filled in (the first choice of an ``any``, else 1)."""
    def value(match: re.Match[str]) -> str:
        if match.group("converter") == "any":
            return match.group("arguments").split(",")[0].strip().strip("'\"")
        return "1"

    return _VARIABLE.sub(value, rule.rule)


def test_every_signed_in_web_page_sends_a_visitor_without_a_session_to_sign_in(settings):
    app = create_app(settings)
    client = app.test_client()
    pages = [(method, rule) for rule in app.url_map.iter_rules() if web_endpoint(rule.endpoint)
             and rule.endpoint not in WEB_PUBLIC and rule.endpoint.split(".", 1)[0] not in WEB_PUBLIC_BLUEPRINTS
             for method in rule.methods - IGNORED_METHODS]
    assert len(pages) > 20
    for method, rule in pages:
        response = client.open(sample_url(rule), method=method)
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in"), \
            (method, rule.rule, response.status_code)


def test_every_route_outside_v1_is_listed_and_refuses_a_caller_without_its_own_credential(settings):
    app = create_app(settings)
    outside = {(method, rule.rule) for rule in app.url_map.iter_rules()
               if not rule.rule.startswith("/v1/") and not web_endpoint(rule.endpoint)
               for method in rule.methods - IGNORED_METHODS}
    assert outside == set(OUTSIDE_V1)
    client = app.test_client()
    for (method, rule), probe in OUTSIDE_V1.items():
        if probe is not None:
            url, refusal = probe
            response = client.open(url, method=method, data={"MessageSid": "SM1", "MessageStatus": "delivered"})
            assert response.status_code == refusal, (rule, response.json)


@pytest.mark.usefixtures("auth_service")
@pytest.mark.parametrize(
    ("authorization", "cookie"),
    [
        (None, None),
        ("Bearer live_v1_" + "w" * 40, None),
        ("Bearer not-a-key", None),
        (None, "forged-session-token"),
        (None, "x" * 1000),
    ],
    ids=["nothing", "unknown-key", "malformed-key", "forged-cookie", "oversized-cookie"],
)
def test_every_api_route_but_the_public_ones_is_401_without_valid_credentials(app, http, authorization, cookie):
    headers = {"Authorization": authorization} if authorization else {}
    if cookie:
        http.set_cookie("postman_session", cookie)
    answered = call_every(http, api_routes(app), headers)
    assert answered == {route: (401, "unathenticated") for route in answered}
    if cookie:
        assert http.get_cookie("postman_session") is None  # the refusal told the browser to drop it


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("intruder_kind", ["api_key", "session"])
@pytest.mark.parametrize("channel", ["EMAIL", "SMS", "TELEGRAM"])
def test_every_campaign_route_is_404_for_another_users_campaign_and_changes_nothing(
        app, http, new_caller, sign_in, intruder_kind, channel):
    owner = new_caller()
    created = http.post("/v1/campaigns", headers=owner.headers, json={"name": "Owner's", "type": channel})
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    details = f"/v1/campaign/{campaign_id}/{channel.lower()}"
    before = http.get(details, headers=owner.headers).json

    if intruder_kind == "api_key":
        intruder_client, intruder_headers = app.test_client(), new_caller().headers
    else:
        intruder_client, intruder_headers = sign_in().client, {}
    answered = call_every(intruder_client, campaign_routes(app), intruder_headers, campaign_id=campaign_id)

    assert answered == {route: (404, "not_found") for route in answered}
    assert http.get(details, headers=owner.headers).json == before
    listed = intruder_client.get("/v1/campaigns", headers=intruder_headers).json
    assert listed == {"campaigns": [], "total_count": 0}


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("intruder_kind", ["api_key", "session"])
def test_campaign_management_routes_are_404_for_another_users_campaign(app, http, database, new_caller, sign_in,
                                                                       intruder_kind):
    """Rename, delete and cancel on another user's draft, and on another user's scheduled campaign: 404, and both
    campaigns stay exactly as they were (name, job, scheduled time)."""
    owner = new_caller()
    draft = http.post("/v1/campaigns", headers=owner.headers, json={"name": "Owner's draft", "type": "EMAIL"}).json
    scheduled = http.post("/v1/campaigns", headers=owner.headers, json={"name": "Owner's plan", "type": "SMS"}).json
    with database.unit_of_work() as session:  # a send scheduled for later, as campaign's SendCampaign leaves it
        session.add(Job(campaign_id=scheduled["id"], status="READY", scheduled_at=utcnow() + timedelta(days=1)))
    details = {c["id"]: f"/v1/campaign/{c['id']}/{c['type'].lower()}" for c in (draft, scheduled)}
    before = {campaign_id: http.get(url, headers=owner.headers).json for campaign_id, url in details.items()}
    assert before[scheduled["id"]]["job_queue"][0]["status"] == "READY"

    if intruder_kind == "api_key":
        intruder_client, intruder_headers = app.test_client(), new_caller().headers
    else:
        intruder_client, intruder_headers = sign_in().client, {}
    for campaign_id in details:
        answered = call_every(intruder_client, campaigns_by_id_routes(app), intruder_headers, campaign_id=campaign_id)
        assert answered == {route: (404, "not_found") for route in answered}
        assert len(answered) == 3  # PUT and DELETE /campaigns/{id}, POST /campaigns/{id}/cancel

    assert {campaign_id: http.get(url, headers=owner.headers).json for campaign_id, url in details.items()} == before


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("intruder_kind", ["api_key", "session"])
def test_saved_template_routes_are_404_for_another_users_template(app, http, new_caller, sign_in, intruder_kind):
    """Read, change, delete another user's saved template, or save another user's campaign's message: 404, and
    the owner's template and list stay exactly as they were; the intruder's own list stays empty."""
    owner = new_caller()
    saved = http.post("/v1/templates", headers=owner.headers,
                      json={"name": "Owner's", "channel": "SMS", "body": "Hi {{name}}"})
    assert saved.status_code == 201, saved.json
    campaign = http.post("/v1/campaigns", headers=owner.headers, json={"name": "Owner's", "type": "SMS"}).json
    assert http.put(f"/v1/campaign/{campaign['id']}/sms/template", headers=owner.headers,
                    json={"body": "Hello {{name}}"}).status_code == 200
    before = http.get("/v1/templates", headers=owner.headers).json

    if intruder_kind == "api_key":
        intruder_client, intruder_headers = app.test_client(), new_caller().headers
    else:
        intruder_client, intruder_headers = sign_in().client, {}
    routes = [(m, r) for m, r in api_routes(app) if r in SAVED_TEMPLATES_BY_ID]
    answered = call_every(intruder_client, routes, intruder_headers, campaign_id=campaign["id"],
                          template_id=saved.json["id"])

    assert answered == {route: (404, "not_found") for route in answered}
    assert len(answered) == 4  # GET, PUT, DELETE /templates/{id}, POST /campaigns/{id}/template/save-as
    assert http.get("/v1/templates", headers=owner.headers).json == before
    assert intruder_client.get("/v1/templates", headers=intruder_headers).json == {"templates": []}
    started = intruder_client.post("/v1/campaigns", headers=intruder_headers,
                                   json={"name": "Intruder's", "type": "SMS", "template_id": saved.json["id"]})
    assert (started.status_code, started.json["code"]) == (404, "not_found")


@pytest.mark.usefixtures("pipeline")
def test_a_campaign_that_does_not_exist_is_404(http, new_caller):
    response = http.get("/v1/campaign/987654321/email", headers=new_caller().headers)
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


@pytest.mark.usefixtures("auth_service")
def test_revoking_another_users_key_is_404_and_the_key_still_works(app, sign_in):
    owner, intruder = sign_in(), sign_in()
    created = owner.client.post("/v1/api-key", json={"label": "owner's laptop"})
    assert created.status_code == 201, created.json
    owner_key = {"Authorization": f"Bearer {created.json['api_key']}"}

    revoked = intruder.client.delete(f"/v1/api-key/{created.json['id']}")

    assert (revoked.status_code, revoked.json["code"]) == (404, "not_found")
    assert app.test_client().get("/v1/auth/userinfo", headers=owner_key).status_code == 200
    assert [k["id"] for k in owner.client.get("/v1/api-key").json] == [created.json["id"]]
    assert intruder.client.get("/v1/api-key").json == []


@pytest.mark.usefixtures("auth_service")
def test_a_keys_expiry_and_notification_contacts_are_shown_to_its_owner_only(sign_in):
    owner, intruder = sign_in(), sign_in()
    created = owner.client.post("/v1/api-key", json={"label": "ci", "notification_contacts": ["team@tech.gov.sg"]})
    assert created.status_code == 201, created.json

    [listed] = owner.client.get("/v1/api-key").json
    assert (listed["notification_contacts"], listed["expires_at"]) == (["team@tech.gov.sg"],
                                                                      created.json["expires_at"])
    seen = intruder.client.get("/v1/api-key")
    assert seen.json == [] and "team@tech.gov.sg" not in seen.get_data(as_text=True)  # the Settings page: web tests
    revoked = intruder.client.delete(f"/v1/api-key/{created.json['id']}")
    assert (revoked.status_code, revoked.json["code"]) == (404, "not_found")
    assert "team@tech.gov.sg" not in revoked.get_data(as_text=True)


@pytest.mark.usefixtures("auth_service")
def test_api_key_routes_refuse_an_api_key_even_the_users_own(app, http, sign_in):
    owner = sign_in()
    created = owner.client.post("/v1/api-key", json={"label": "ci"})
    assert created.status_code == 201, created.json
    key = {"Authorization": f"Bearer {created.json['api_key']}"}

    answered = call_every(http, api_key_routes(app), key, key_id=created.json["id"])

    assert answered == {route: (403, "unauthorized") for route in answered}
    assert [k["id"] for k in owner.client.get("/v1/api-key").json] == [created.json["id"]]
    assert http.get("/v1/auth/userinfo", headers=key).status_code == 200


@pytest.mark.usefixtures("auth_service")
def test_sender_address_routes_refuse_an_api_key_even_the_users_own(app, http, sign_in):
    """Like /v1/api-key: a leaked key cannot add a From to send as, list the addresses or remove them."""
    owner = sign_in()
    created = owner.client.post("/v1/api-key", json={"label": "ci"})
    key = {"Authorization": f"Bearer {created.json['api_key']}"}

    answered = call_every(http, sender_routes(app), key)

    assert answered == {route: (403, "unauthorized") for route in answered} and len(answered) == 3
    assert owner.client.get("/v1/settings/email/from").json["addresses"] == []


@pytest.mark.usefixtures("auth_service")
def test_removing_another_users_sender_address_is_404_and_it_stays(http, sign_in, amqp_channel):
    owner, intruder = sign_in(), sign_in()
    address = f"desk-{owner.user_id}@agency.gov.sg"
    pending = owner.client.post("/v1/settings/email/from/verify", json={"email": address})
    assert pending.status_code == 200, pending.json

    answered = call_every(intruder.client, [("DELETE", "/v1/settings/email/from/<sender_id>")],
                          sender_id=pending.json["id"])

    assert answered == {("DELETE", "/v1/settings/email/from/<sender_id>"): (404, "not_found")}
    assert [a["email"] for a in owner.client.get("/v1/settings/email/from").json["addresses"]] == [address]
    assert intruder.client.get("/v1/settings/email/from").json == {
        "from": ["Postman <donotreply@mail.postman.gov.sg>"], "addresses": []}


@pytest.mark.parametrize("intruder_kind", ["api_key", "session"])
def test_client_webhook_routes_never_reach_another_users_webhook(own_settings, amqp_channel, new_caller,
                                                                 intruder_kind):
    """Another officer, by key or session, sees none of the owner's webhooks, cannot read their log, rotate,
    test or delete them (404: they have none of their own), and their PUT makes a webhook of their own; the
    owner's stays exactly as it was."""
    settings = replace(own_settings, webhook_allow_private=True, credentials_key=new_master_key())
    app = create_app(settings)
    http = app.test_client()
    with running(settings, "auth", "stats"):
        owner = new_caller()
        created = http.put(WEBHOOKS_PREFIX + "/transactional", headers=owner.headers,
                           json={"url": "http://127.0.0.1:9/owner"})
        assert created.status_code == 201, created.json
        before = http.get(WEBHOOKS_PREFIX, headers=owner.headers).json
        if intruder_kind == "api_key":
            intruder_client, intruder_headers = app.test_client(), new_caller().headers
        else:
            intruder_client = app.test_client()
            browser_email = new_address()
            assert intruder_client.post("/v1/auth/otp", json={"email": browser_email}).status_code == 200
            otp = one_time_password(amqp_channel, browser_email)
            assert intruder_client.post("/v1/auth/login", json={"email": browser_email, "otp": otp}).status_code \
                == 200
            intruder_headers = {}
        routes = [(m, r) for m, r in api_routes(app) if r in WEBHOOK_ROUTES]
        answered = call_every(intruder_client, [(m, r) for m, r in routes if m != "PUT"], intruder_headers)
        assert answered.pop(("GET", WEBHOOKS_PREFIX))[0] == 200
        assert answered == {route: (404, "not_found") for route in answered}
        assert len(answered) == 4  # DELETE, rotate, deliveries, test
        assert intruder_client.get(WEBHOOKS_PREFIX, headers=intruder_headers).json == {"webhooks": []}
        own = call_every(intruder_client, [("PUT", WEBHOOKS_PREFIX + "/<kind>")], intruder_headers)
        assert own == {("PUT", WEBHOOKS_PREFIX + "/<kind>"): (201, None)}
        assert http.get(WEBHOOKS_PREFIX, headers=owner.headers).json == before
        assert intruder_client.get(WEBHOOKS_PREFIX, headers=intruder_headers).json["webhooks"][0]["url"] \
            == "http://127.0.0.1:9/intruder"

