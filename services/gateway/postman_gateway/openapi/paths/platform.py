"""The ``Platform`` tag: liveness (``/v1/ping``) and this document (``/v1/openapi.json``)."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import Operation, ok, op


def operations() -> list[Operation]:
    return [
        op("GET", "/v1/ping", "Platform", "Liveness", "Answers `pong` without a key: the gateway is up.",
           ok(200, "The gateway is up.", {"type": "string", "const": "pong"}, "pong", "text/plain"),
           errors=(500,), public=True),
        op("GET", "/v1/openapi.json", "Platform", "This document",
           "The OpenAPI 3.1 document of the API, without a key. A readable page of it is served at `/docs`.",
           ok(200, "The OpenAPI document.", {"type": "object", "required": ["openapi", "paths"]},
              {"openapi": "3.1.0", "info": {"title": "Postman API", "version": "1.0.0"}, "paths": {}}),
           errors=(500,), public=True),
    ]
