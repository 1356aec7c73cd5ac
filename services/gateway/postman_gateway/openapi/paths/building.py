"""How the document's operations are written: ``op`` (an operation with its id, tag, responses and the error
responses every route of its kind can give), the pieces of one (``ok``, ``json_body``, ``optional_body``,
``path_param``, ``query``) and what several tags share (the error sets, the campaign id, the example sender, the
transactional lists' parameters).
"""

from __future__ import annotations

import re
from typing import Any

from postman_gateway.openapi.schemas import TRANSACTIONAL_SORTS, WHEN, Schema, schemas

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# Every route needing a caller can answer these, whatever it does (403: the caller's address is no longer allowed by
# DOMAIN_ALLOWLIST).
CALLER_ERRORS = (401, 403, 429, 500, 503)
# ... and every route naming a campaign: a non-numeric id is a 400, another user's campaign a 404, a cross-site
# state change with a session cookie a 403.
CAMPAIGN_ERRORS = (400, 403, 404, *CALLER_ERRORS)
FROM = "Postman <donotreply@mail.postman.gov.sg>"
MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="  # an example Content-MD5 (of an empty file)

Paths = dict[str, dict[str, Any]]
Operation = tuple[str, str, dict[str, Any]]  # (path, method, operation)


def operation_id(method: str, path: str) -> str:
    """The generated client's naming: ``/v1/campaign/{campaignId}/email/upload/start`` GET ->
    ``campaignCampaignIdEmailUploadStartGet``."""
    words = [w for w in re.split(r"[/{}\-._]+", path.removeprefix("/v1")) if w]
    camel = "".join(w[:1].upper() + w[1:] for w in words) + method.capitalize()
    return camel[:1].lower() + camel[1:]


def json_content(schema: Schema, example: Any) -> dict[str, Any]:
    return {JSON: {"schema": schema, "example": example}}


def json_body(schema: Schema, example: Any, required: bool = True, description: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"required": required, "content": json_content(schema, example)}
    if description:
        body["description"] = description
    return body


def optional_body(schema: Schema, example: Any, description: str) -> dict[str, Any]:
    """A body the client may leave out: it then sends ``{}`` as JSON, or nothing with axios' form content type."""
    return {
        "required": False,
        "description": description,
        "content": {JSON: {"schema": schema, "example": example}, FORM: {"schema": schema, "example": {}}},
    }


def ok(status: int, description: str, schema: Schema | None = None, example: Any = None,
       media_type: str = JSON) -> dict[int, dict[str, Any]]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media_type: {"schema": schema, "example": example}}
    return {status: response}


def path_param(name: str, description: str, schema: Schema | None = None, example: Any = "20") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string", "pattern": "^[0-9]+$"}, "example": example}


def query(name: str, schema: Schema, description: str, example: Any = None, required: bool = False) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required, "description": description,
                             "schema": schema}
    if schema.get("type") == "array":
        param.update(style="form", explode=True)
    if example is not None:
        param["example"] = example
    return param


CAMPAIGN_ID = path_param("campaignId", "The campaign's id (numeric, sent as a string by the client).")


def op(method: str, path: str, tag: str, summary: str, description: str, responses: dict[int, dict[str, Any]],
       errors: tuple[int, ...] = CALLER_ERRORS, params: list[dict[str, Any]] | None = None,
       body: dict[str, Any] | None = None, public: bool = False) -> tuple[str, str, dict[str, Any]]:
    operation: dict[str, Any] = {
        "tags": [tag], "summary": summary, "description": description, "operationId": operation_id(method, path),
    }
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    answers = {str(status): response for status, response in responses.items()}
    for status in sorted(set(errors)):
        answers.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    operation["responses"] = dict(sorted(answers.items()))
    if public:
        operation["security"] = []
    return path, method.lower(), operation



def ref_example(name: str) -> Any:
    """The example a component schema carries, reused as the example of a response."""
    return schemas()[name]["examples"][0]


def list_parameters(statuses: list[str]) -> list[dict[str, Any]]:
    created_at = [
        query(f"created_at.{bound}", {"type": "string", "format": "date-time"},
              f"Only messages created {words} this time. The client sends `created_at.{bound}=`; the upstream "
              f"server's bracketed form `created_at[{bound}]=` is accepted too.", WHEN)
        for bound, words in (("gt", "after"), ("gte", "at or after"), ("lt", "before"), ("lte", "at or before"))
    ]
    return [
        query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "Page size.", 10),
        query("offset", {"type": "integer", "minimum": 0, "default": 0}, "How many to skip.", 0),
        query("status", {"type": "array", "items": {"type": "string", "enum": statuses}},
              "Only these statuses: the key repeated (`status=SENT&status=DELIVERED`); one value, or values "
              "separated by commas, work too.", [statuses[2]]),
        *created_at,
        query("sort_by", {"type": "array", "items": {"type": "string", "enum": TRANSACTIONAL_SORTS},
                          "default": ["created_at"]},
              "Sort keys, the key repeated: `+` ascending, `-` or no prefix descending.", ["-created_at"]),
    ]
