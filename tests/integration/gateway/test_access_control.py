"""Who may call what, checked over every route the app declares: a new route without the check fails here."""

from __future__ import annotations

import pytest

from postman_gateway.app import create_app

PUBLIC = {"/v1/ping"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}

# Inputs that pass the gateway's own validation, so a request reaches the owner check of the campaign service.
# A new route that validates its input needs an entry here.
SAMPLE_INPUT = {
    ("PUT", "/template"): {"json": {"subject": "Hello {{name}}", "body": "Dear {{name}}", "reply_to": None,
                                    "from": "Postman <donotreply@mail.postman.gov.sg>"}},
    ("GET", "/upload/start"): {"query_string": {"mime_type": "text/csv", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
    ("POST", "/upload/complete"): {"json": {"transaction_id": "00000000-0000-0000-0000-000000000000",
                                            "filename": "list.csv"}},
}


def api_routes(app):
    """(method, rule) of every /v1 route that needs a key."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/") and rule.rule not in PUBLIC
        for method in rule.methods - IGNORED_METHODS
    )


def campaign_routes(app):
    return [(method, rule) for method, rule in api_routes(app) if rule.startswith("/v1/campaign/<campaign_id>/")]


def sample_input(method, rule):
    return SAMPLE_INPUT.get((method, rule.removeprefix("/v1/campaign/<campaign_id>/email")), {})


def test_the_matrix_covers_the_email_campaign_routes(settings):
    routes = {rule for _, rule in api_routes(create_app(settings))}
    assert "/v1/campaigns" in routes
    assert len([r for r in routes if r.startswith("/v1/campaign/<campaign_id>/email")]) == 9


@pytest.mark.usefixtures("auth_service")
@pytest.mark.parametrize("authorization", [None, "Bearer live_v1_" + "w" * 40, "Bearer not-a-key"])
def test_every_api_route_but_ping_is_401_without_a_valid_key(app, http, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answered = {}
    for method, rule in api_routes(app):
        url = rule.replace("<campaign_id>", "1")
        response = http.open(url, method=method, headers=headers, **sample_input(method, rule))
        answered[(method, rule)] = (response.status_code, (response.json or {}).get("code"))
    assert answered == {route: (401, "unathenticated") for route in answered}


@pytest.mark.usefixtures("pipeline")
def test_every_campaign_route_is_404_for_another_users_campaign_and_changes_nothing(app, http, new_caller):
    owner, intruder = new_caller(), new_caller()
    created = http.post("/v1/campaigns", headers=owner.headers, json={"name": "Owner's", "type": "EMAIL"})
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    before = http.get(f"/v1/campaign/{campaign_id}/email", headers=owner.headers).json

    answered = {}
    for method, rule in campaign_routes(app):
        url = rule.replace("<campaign_id>", str(campaign_id))
        response = http.open(url, method=method, headers=intruder.headers, **sample_input(method, rule))
        answered[(method, rule)] = (response.status_code, (response.json or {}).get("code"))

    assert answered == {route: (404, "not_found") for route in answered}
    assert http.get(f"/v1/campaign/{campaign_id}/email", headers=owner.headers).json == before
    listed = http.get("/v1/campaigns", headers=intruder.headers).json
    assert listed == {"campaigns": [], "total_count": 0}


@pytest.mark.usefixtures("pipeline")
def test_a_campaign_that_does_not_exist_is_404(http, new_caller):
    response = http.get("/v1/campaign/987654321/email", headers=new_caller().headers)
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
