"""Checks each answer of the gateway against the OpenAPI document it serves, so the document and the server cannot
drift: the status must be documented for that operation, the content type must be one the document gives for it,
and a JSON body must match the schema (with formats checked). ``ContractClient`` wraps Flask's test client, checks
every response it gets, and records which documented operations were driven."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class NotConforming(AssertionError):
    pass


@dataclass
class Document:
    """The served document, with its path templates compiled (literal paths win over templated ones)."""

    spec: dict[str, Any]
    _templates: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    _validators: dict[int, Draft202012Validator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for template in sorted(self.spec["paths"], key=lambda t: (t.count("{"), -len(t))):
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            self._templates.append((re.compile(f"^{pattern}$"), template))
        self._registry = Registry().with_resource(
            "urn:postman-openapi", Resource.from_contents(self.spec, default_specification=DRAFT202012))

    def template_of(self, method: str, path: str) -> str | None:
        for pattern, template in self._templates:
            if pattern.match(path) and method.lower() in self.spec["paths"][template]:
                return template
        return None

    def operation(self, method: str, template: str) -> dict[str, Any]:
        return self.spec["paths"][template][method.lower()]  # type: ignore[no-any-return]

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator of a schema of the document (its ``#/components`` references resolve in the document)."""
        key = id(schema)
        if key not in self._validators:
            registry = self._registry.with_resource("urn:target", Resource.from_contents(
                {**self.spec, "$defs": {"target": schema}}, default_specification=DRAFT202012))
            self._validators[key] = Draft202012Validator({"$ref": "urn:target#/$defs/target"}, registry=registry,
                                                         format_checker=FormatChecker())
        return self._validators[key]

    def operations(self) -> set[tuple[str, str]]:
        return {(method.upper(), path) for path, item in self.spec["paths"].items() for method in HTTP_METHODS
                if method in item}

    def check(self, method: str, url: str, response: TestResponse) -> str:
        """Raises ``NotConforming`` unless ``response`` is one the document allows; returns the path template."""
        path = urlsplit(url).path
        template = self.template_of(method, path)
        if template is None:
            raise NotConforming(f"{method} {path} is not in the document")
        responses = self.operation(method, template)["responses"]
        status = str(response.status_code)
        if status not in responses:
            raise NotConforming(f"{method} {template} answered {status}, which the document does not list "
                                f"({', '.join(responses)}): {response.get_data(as_text=True)[:300]}")
        documented = self.resolve(responses[status])
        content = documented.get("content", {})
        body = response.get_data()
        if not content:
            if body and response.mimetype == "application/json":
                raise NotConforming(f"{method} {template} {status} has a JSON body the document does not describe")
            return template
        if response.mimetype not in content:
            raise NotConforming(f"{method} {template} {status} answered {response.mimetype}, not one of "
                                f"{', '.join(content)}")
        if response.mimetype == "application/json":
            problems = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                        for e in self.validator(content["application/json"]["schema"]).iter_errors(response.json)]
            if problems:
                raise NotConforming(f"{method} {template} {status} does not match the document: {problems[:5]}; "
                                    f"body {response.get_data(as_text=True)[:500]}")
        return template


class ContractClient:
    """Flask's test client, every answer checked against ``document``; ``driven`` collects the operations used."""

    def __init__(self, client: FlaskClient, document: Document, driven: set[tuple[str, str]]) -> None:
        self.client = client
        self.document = document
        self.driven = driven

    def open(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        response = self.client.open(url, method=method, **kwargs)
        template = self.document.check(method, url, response)
        self.driven.add((method, template))
        return response

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.open("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.open("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        return self.open("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return self.open("DELETE", url, **kwargs)
