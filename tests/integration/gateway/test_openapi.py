"""The OpenAPI document and the /docs page against the app that serves them: every route the app serves is documented
and every documented operation is served, the document is valid OpenAPI, every example matches its schema, every
error code the server can answer is in the document, and the page shows every operation without any script or
inline style."""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from postman_gateway import web
from postman_gateway.app import create_app
from postman_gateway.core import errors
from postman_shared.grpc.errors import CODES

IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# Flask's argument names -> the contract's path parameter names.
PARAMETER_NAMES = {"campaign_id": "campaignId", "email_id": "emailId", "sms_id": "smsId", "key_id": "id",
                   "sender_id": "id"}
# Routes served outside /v1 that are not part of the API, and why they are not in the document.
# The blueprints of postman_gateway.web: its modules' blueprints and its static assets.
WEB_BLUEPRINTS = {"web_assets", *(importlib.import_module(f"postman_gateway.web.{name}").blueprint.name
                                  for name in web.PAGE_MODULES
                                  if importlib.util.find_spec(f"postman_gateway.web.{name}") is not None)}

NOT_API = {
    ("GET", "/docs"): "the human-readable page rendered from this document",
    ("GET", "/docs/static/{filename}"): "the stylesheet of that page",
    ("POST", "/telegram/webhook/{credential_id}"): "called by Telegram with the bot's secret token; the platform "
                                                   "registers it with setWebhook, no API caller uses it",
    ("POST", "/callbacks/twilio/sms/c/{campaign_id}/{recipient_id}/{credential_id}/{sig}"):
        "Twilio's status callbacks of campaign SMS: a signed URL sender-sms hands to Twilio",
    ("POST", "/callbacks/twilio/sms/t/{sms_id}/{credential_id}/{sig}"):
        "Twilio's status callbacks of transactional SMS: a signed URL sender-sms hands to Twilio",
    ("POST", "/callbacks/ses/events"): "SES's email events, delivered by Amazon SNS with its own signature",
}


def openapi_path(rule: str) -> str:
    """``/v1/campaign/<campaign_id>/email`` -> ``/v1/campaign/{campaignId}/email`` (converters dropped)."""
    def name(match: re.Match[str]) -> str:
        argument = match.group(1).split(":")[-1]
        return "{" + (PARAMETER_NAMES.get(argument, argument) if rule.startswith("/v1/") else argument) + "}"

    return re.sub(r"<([^>]+)>", name, rule)


def web_page(endpoint: str) -> bool:
    """An endpoint of the officers' web pages (postman_gateway.web): HTML for browsers, not API."""
    blueprint = endpoint.split(".", 1)[0] if "." in endpoint else ""
    return endpoint == "home" or blueprint in WEB_BLUEPRINTS


def served(app) -> set[tuple[str, str]]:
    """Every (method, path) the gateway serves, but the web pages (the officers' HTML interface, not API)."""
    return {(method, openapi_path(rule.rule)) for rule in app.url_map.iter_rules() if not web_page(rule.endpoint)
            for method in rule.methods - IGNORED_METHODS}


def documented(document) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in HTTP_METHODS
            if method in item}


def operations(document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


@pytest.fixture
def document(http):
    response = http.get("/v1/openapi.json")  # no key: public
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def test_every_served_route_is_documented_and_every_documented_operation_is_served(app, document):
    routes = served(app)
    api = {(method, path) for method, path in routes if (method, path) not in NOT_API}
    assert api - documented(document) == set(), "served but not documented"
    assert documented(document) - api == set(), "documented but not served"
    assert set(NOT_API) <= routes, "a route listed as not API is no longer served: take it off the list"


def test_the_upload_put_is_documented_only_where_the_gateway_serves_it(settings):
    s3_app = create_app(replace(settings, object_store="s3", s3_bucket="bucket"))
    document = s3_app.test_client().get("/v1/openapi.json").json
    assert "/uploads/{key}" not in document["paths"]
    assert ("PUT", "/uploads/{key}") not in served(s3_app)


def test_the_document_is_valid_openapi_with_unique_operation_ids(document):
    validate(document)
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert document["openapi"].startswith("3.1")


def test_every_operation_has_examples_and_its_errors_are_the_api_shape(document):
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert successes, f"{where} documents no success"
        for status, response in successes.items():
            for media, content in response.get("content", {}).items():
                assert "example" in content, f"{where} {status} {media} has no example"
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            assert "example" in content, f"{where} request {media} has no example"
        for parameter in operation.get("parameters", []):
            assert "example" in parameter, f"{where} parameter {parameter['name']} has no example"
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response == {"$ref": f"#/components/responses/Error{status}"}, where
        if operation.get("security") != []:
            assert {"401", "429"} <= set(operation["responses"]), f"{where} needs a key: document 401 and 429"


def test_every_error_code_the_server_answers_is_in_the_document_under_its_status(document):
    schemas = document["components"]["schemas"]
    documented_codes = {int(name[5:8]): set(schema["properties"]["code"]["enum"])
                        for name, schema in schemas.items() if re.fullmatch(r"Error\d{3}Response", name)}
    answered = {(status, code) for code, (_grpc, status) in CODES.items()}
    answered |= {(status, code) for status, code in errors._HTTP_CODES.items()}
    for status, code in sorted(answered):
        assert code in documented_codes.get(status, set()), f"{status} {code} is answered but not documented"
    assert documented_codes[401] == {"unathenticated"}  # the contract's spelling


def _validator(document, schema) -> Draft202012Validator:
    """A validator of ``schema`` whose ``#/components/...`` references resolve in ``document``."""
    resource = Resource.from_contents({**document, "$defs": {"target": schema}}, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:postman-openapi", resource)
    return Draft202012Validator({"$ref": "urn:postman-openapi#/$defs/target"}, registry=registry,
                                format_checker=FormatChecker())


def examples(document) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example in the document."""
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            yield f"schema {name}", schema, example
    for name, response in document["components"]["responses"].items():
        for media, content in response.get("content", {}).items():
            yield f"response {name} {media}", content["schema"], content["example"]
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                yield f"{method} {path} parameter {parameter['name']}", parameter["schema"], parameter["example"]
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if media in ("application/json", "application/x-www-form-urlencoded") and "example" in content:
                yield f"{method} {path} request {media}", content["schema"], content["example"]
        for status, response in operation["responses"].items():
            for media, content in response.get("content", {}).items():
                if "example" in content:
                    yield f"{method} {path} {status} {media}", content["schema"], content["example"]


def test_every_example_matches_its_schema(document):
    checked = 0
    for where, schema, example in examples(document):
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in _validator(document, schema).iter_errors(example)]
        assert problems == [], f"{where}: {problems}"
        checked += 1
    assert checked > 150


def test_a_wrong_example_would_be_caught(document):
    schema = {"$ref": "#/components/schemas/CampaignMeta"}
    assert list(_validator(document, schema).iter_errors({"id": "not a number", "type": "FAX"}))


def test_the_docs_page_shows_every_operation_without_scripts_or_inline_styles(http, document):
    response = http.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for method, path, operation in operations(document):
        assert f'id="{operation["operationId"]}"' in page, f"{method} {path} is not on the page"
        assert f'{method}</span> <code class="path">{path}</code>' in page, f"{method} {path} is not on the page"
    for name in document["components"]["schemas"]:
        assert f'id="model-{name}"' in page
    assert "unathenticated" in page and "already_sent" in page  # the error codes are shown
    assert "<script" not in page and "<style" not in page and " style=" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page loads nothing from another site"
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)">', page).group(1)
    css = http.get(stylesheet)
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_the_docs_page_escapes_the_documents_text(http):
    page = http.get("/docs").get_data(as_text=True)
    # The descriptions mention `Name <addr>`-like text: it must arrive as text, not as tags.
    assert "&lt;apiKey&gt;" in page and "<apiKey>" not in page
