"""The API's OpenAPI 3.1 document, served at ``/v1/openapi.json``, and a readable reference rendered from it at
``/docs``.

The document is written by hand (``schemas`` and ``paths``) rather than derived from the routes, because it has to
say what the routes cannot: the contract's shapes, enums, error codes and the generated client's quirks. That it
matches the routes is a test's job (tests/integration/gateway/test_openapi.py: every served route documented, every
documented route served), and that the answers match it is the contract suite's and the fuzzer's.

The page is plain server-rendered HTML with one static stylesheet: no script and no inline style, so it works under
a Content-Security-Policy without 'unsafe-inline'.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from markupsafe import Markup, escape

from postman_gateway.openapi import paths, schemas

EXTENSION = "postman_gateway.openapi"
VERSION = "1.0.0"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

TAGS = [
    ("Campaigns", "Create, list, rename, delete campaigns; cancel a scheduled send (contract section 3)."),
    ("Email campaigns", "One email campaign: template, recipients, credentials, send, stats, export (section 4)."),
    ("SMS campaigns", "One SMS campaign, sent with the user's Twilio account (section 4)."),
    ("Telegram campaigns", "One Telegram campaign, sent by the user's bot to its subscribers (section 4)."),
    ("Email", "Transactional email: one message at a time, at once (section 5.1)."),
    ("SMS", "Transactional SMS with a saved Twilio credential (section 5.2)."),
    ("Sign-in", "One-time password sign-in and sessions (this platform's own)."),
    ("API keys", "The signed-in user's API keys (this platform's own)."),
    ("Sender addresses", "The addresses the signed-in user has proven they own and may send email from (Postman's "
                         "custom From addresses)."),
    ("Webhooks", "Signed callbacks to the caller's own systems: transactional message status and campaign events "
                 "(an extension of v1; docs/webhooks.md)."),
    ("Extensions: saved templates", "An officer's messages saved under a name per channel, to start campaigns "
                                    "from (issue 18). Not part of Postman v1: an extension of this platform; each "
                                    "operation says so in `x-postman-extension`."),
    ("Platform", "Liveness and this document."),
    ("Uploads", "The presigned PUT of recipient files when the platform stores them itself."),
    ("Unsubscribe", "Recipients' unsubscribe links: no key, the link's signature is checked (upstream's API)."),
    ("Password-protected messages", "A recipient's page opens their encrypted message: no key, the proof of the "
                                    "password is checked (upstream's API)."),
]

DESCRIPTION = """\
Postman's public API v1, wire-compatible with `@opengovsg/postmangovsg-client` (GovSG/WhatsApp excluded).

Authentication: `Authorization: Bearer <apiKey>` on every route but `ping`, `openapi.json`, `auth/otp` and
`auth/login`. Errors are `{code, message}`; the codes per status are in the `Error…Response` schemas. The 401 code
is spelled `unathenticated`, as in the contract's spec.

Request bodies: at most 1 MiB (18 MiB for transactional email with attachments); only the presigned upload PUT
takes a file up to `MAX_UPLOAD_BYTES`. A larger `Content-Length` is answered 413 `attachment_limit` at once,
before the body is sent; a chunked body is cut off at the limit.

Quirks of the generated client that the server accepts:
- `send` (email), `retry`, `refresh-stats` and `cancel` are POSTs without data that axios sends with
  `Content-Type: application/x-www-form-urlencoded` and an empty body.
- Optional bodies left out arrive as `{}` with `Content-Type: application/json` (email `credentials`,
  `upload/complete`, sms/telegram `send`, transactional `send`).
- Array query parameters repeat the key (`status=SENT&status=DELIVERED`).
- The `created_at` filter is flattened with dots (`created_at.gt=…`); the bracketed `created_at[gt]=…` of the
  upstream server is accepted too. OpenAPI cannot describe the dotted style of one object parameter, so each bound is
  documented as a parameter of its own.
- Path parameters are numeric ids sent as strings.

The client's base path is `https://<host>/v1`: the paths here include the `/v1` prefix.
"""


def build_document(local_uploads: bool = True) -> dict[str, Any]:
    """The whole document. ``local_uploads``: whether the gateway serves the presigned PUT (OBJECT_STORE=local)."""
    built_paths = paths.paths()
    if not local_uploads:
        built_paths = {path: item for path, item in built_paths.items() if not path.startswith("/uploads/")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Postman API",
            "version": VERSION,
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "This gateway"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": built_paths,
        "components": {
            "schemas": schemas.schemas(),
            "responses": schemas.responses(),
            "securitySchemes": schemas.SECURITY_SCHEMES,
        },
    }


@cache
def _document(local_uploads: bool) -> dict[str, Any]:
    return build_document(local_uploads)


def document() -> dict[str, Any]:
    """The document this app serves (a copy: callers may change it)."""
    return copy.deepcopy(_document(current_app.extensions[EXTENSION]))


# --- serving ---------------------------------------------------------------------------------------------------------

public_blueprint = Blueprint("openapi", __name__)
docs_blueprint = Blueprint("docs", __name__, template_folder="templates", static_folder="static",
                           static_url_path="/docs/static")


@public_blueprint.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(_document(current_app.extensions[EXTENSION]))


@docs_blueprint.get("/docs")
def reference() -> str:
    doc = _document(current_app.extensions[EXTENSION])
    return render_template("reference.html", doc=doc, groups=operations_by_tag(doc),
                           models=models(doc), description=_paragraphs(doc["info"]["description"]))


def install(app: Flask, public: Blueprint, local_uploads: bool) -> None:
    """``/v1/openapi.json`` on the public (unauthenticated) ``/v1`` blueprint, ``/docs`` and its stylesheet."""
    app.extensions[EXTENSION] = local_uploads
    public.register_blueprint(public_blueprint)
    app.register_blueprint(docs_blueprint)
    app.add_template_filter(inline_code, "inline_code")


# --- the page's view of the document ---------------------------------------------------------------------------------

_CODE = re.compile(r"`([^`]+)`")


def inline_code(text: str) -> Markup:
    """Escapes ``text`` and turns its `backticks` into <code>: the only markup the document's prose uses."""
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))  # noqa: S704 - escaped


def _paragraphs(text: str) -> list[str | list[str]]:
    """Blank-line separated paragraphs; a paragraph of ``- `` lines becomes a list."""
    blocks: list[str | list[str]] = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if lines[0].startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.startswith("- "):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line.strip()
            blocks.append(items)
        else:
            blocks.append(" ".join(line.strip() for line in lines))
    return blocks


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follows a local ``$ref`` (once, and again if it lands on another)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def type_name(doc: dict[str, Any], schema: dict[str, Any]) -> str:
    """A short human name for a schema: ``string``, ``integer[]``, ``CampaignMeta``, ``string | null``..."""
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " | ".join(type_name(doc, s) for s in schema[combinator])
    if "allOf" in schema:
        return " + ".join(type_name(doc, s) for s in schema["allOf"])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array" and "items" in schema:
        return f"{type_name(doc, schema['items'])}[]"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


def _pretty(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def _error_codes(doc: dict[str, Any], response: dict[str, Any]) -> list[str]:
    content = response.get("content", {}).get("application/json", {})
    schema = resolve(doc, content.get("schema", {}))
    code = schema.get("properties", {}).get("code", {}) if isinstance(schema, dict) else {}
    return list(code.get("enum", []))


def operations_by_tag(doc: dict[str, Any]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in doc["tags"]}
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            responses = []
            for status, response in operation["responses"].items():
                response = resolve(doc, response)
                examples = [(media, _pretty(body["example"])) for media, body in response.get("content", {}).items()
                            if "example" in body]
                responses.append({"status": status, "description": response["description"], "examples": examples,
                                  "codes": _error_codes(doc, response) if int(status) >= 400 else []})
            body = operation.get("requestBody")
            groups[operation["tags"][0]].append({
                "id": operation["operationId"], "method": method.upper(), "path": path,
                "summary": operation["summary"], "description": operation["description"],
                "public": operation.get("security") == [],
                "parameters": [{**p, "type": type_name(doc, p["schema"])} for p in operation.get("parameters", [])],
                "body": None if body is None else {
                    "required": body.get("required", False), "description": body.get("description", ""),
                    "contents": [(media, type_name(doc, content["schema"]),
                                  _pretty(content["example"]) if "example" in content else None)
                                 for media, content in body["content"].items()],
                },
                "responses": responses,
            })
    return [{"name": tag["name"], "description": tag["description"], "operations": groups[tag["name"]]}
            for tag in doc["tags"] if groups[tag["name"]]]


def models(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Each component schema with its fields (those of ``allOf`` parts included)."""
    shown = []
    for name, schema in doc["components"]["schemas"].items():
        fields = []
        parts = schema.get("allOf", [schema])
        for part in parts:
            part = resolve(doc, part)
            required = set(part.get("required", []))
            for field, field_schema in part.get("properties", {}).items():
                fields.append({"name": field, "type": type_name(doc, field_schema), "required": field in required,
                               "description": field_schema.get("description", "")})
        shown.append({"name": name, "description": schema.get("description", ""),
                      "type": None if fields else type_name(doc, schema), "fields": fields})
    return shown
