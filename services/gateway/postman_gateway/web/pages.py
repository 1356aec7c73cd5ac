"""What every page shares: who is signed in (the session cookie, resolved by auth on every request, as for the
API), sign-in enforcement with a return address, the CSRF check of posted forms, errors shown the GOV.UK way (an
error summary at the top linking to each field, and the message again beside the field), and ``render``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from postman.v1 import auth_pb2
from postman_gateway.core.auth import SESSION, Caller, Officer
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.limiting import check_api_limit
from postman_gateway.core.observability import bind_to_request
from postman_gateway.core.request_context import current
from postman_gateway.core.sessions import SESSION_COOKIE
from postman_gateway.web import csrf
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

SIGN_IN = "/sign-in"
TEMPLATES = str(Path(__file__).parent / "templates")  # the pages' templates, for modules in subpackages too
# The largest form an officer's page takes: a few fields. The campaign journey (template, recipient file) sets its own.
MAX_FORM_BYTES = 64 * 1024


@dataclass
class FormErrors:
    """Field name -> message, in the order the fields appear; ``summary`` lists them for the top of the page."""

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.messages.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def get(self, name: str) -> str | None:
        return self.messages.get(name)

    @property
    def summary(self) -> list[tuple[str, str]]:
        return list(self.messages.items())


def officer() -> Officer | None:
    """The signed-in officer of this request, or None (resolved once per request)."""
    context = current()
    if context.officer_resolved:
        return context.officer
    token = request.cookies.get(SESSION_COOKIE, "")
    found: Officer | None = None
    if token and len(token) <= 512 and token.isascii():
        try:
            session = client.call(backends().auth.ResolveSession,
                                  auth_pb2.ResolveSessionRequest(session_token=token), timeout=5.0)
            found = Officer(session.user.id, session.user.email, session.user.rate_limit, token)
        except ServiceError as exc:
            # unauthorized: a genuine session of an address no longer allowed (DOMAIN_ALLOWLIST); signing in
            # again then says why.
            if exc.code not in (ErrorCode.UNATHENTICATED, ErrorCode.UNAUTHORIZED):
                raise
    context.officer, context.officer_resolved = found, True
    if found is not None:
        # As the API's authentication hook does, so the API's helpers (channel_routes, audit) work for pages too.
        context.caller = Caller(found.user_id, found.email, found.rate_limit, SESSION, token)
        bind_to_request(user_id=found.user_id)
    return found


def require_officer() -> ResponseReturnValue | None:
    """``before_request`` of every signed-in page blueprint: sends a visitor to sign in, then back here; counts the
    request against the officer's ``API_RATE_LIMIT`` (pages and API share it); checks the CSRF token of every POST."""
    found = officer()
    if found is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else request.path
        return redirect(f"{SIGN_IN}?next={quote(target, safe='/?=&')}")
    check_api_limit(found.user_id)
    if request.method == "POST":
        csrf.check()
    return None


def signed_in_blueprint(name: str, import_name: str, max_form_bytes: int | None = MAX_FORM_BYTES,
                        **kwargs: Any) -> Blueprint:
    """A blueprint of pages for signed-in officers, its templates in ``web/templates`` (wherever under ``web`` its
    module is); a request body over ``max_form_bytes`` is a 413 before anything reads it (None: the blueprint's routes
    set their own limits)."""
    blueprint = Blueprint(name, import_name, template_folder=TEMPLATES, **kwargs)
    if max_form_bytes is not None:
        blueprint.before_request(lambda: _limit_body(max_form_bytes))
    blueprint.before_request(require_officer)
    install_error_pages(blueprint)
    return blueprint


def _limit_body(max_bytes: int) -> None:
    request.max_content_length = max_bytes  # a chunked body without a length stops there too


def _error_page(status: int, message: str) -> ResponseReturnValue:
    if status == 401:  # the session ended while the page was open: sign in again, then come back
        return redirect(f"{SIGN_IN}?next={quote(request.path, safe='/')}")
    context = current()
    if not context.officer_resolved:  # auth itself failed (down): the page is shown without the signed-in header
        context.officer, context.officer_resolved = None, True
    return render("error.html", status, title="Sorry, there is a problem" if status >= 500 else "There is a problem",
                  message=message, code=status)


def install_error_pages(blueprint: Blueprint) -> None:
    """A refusal (a service's ``ServiceError``, a 400 of the CSRF check, a 404) on a page is an HTML page in
    plain words, not the API's JSON; unexpected errors still go to the app's handler (logged, request id)."""
    blueprint.register_error_handler(
        ServiceError, lambda exc: _error_page(exc.http_status, exc.message))  # type: ignore[arg-type]
    blueprint.register_error_handler(
        HTTPException, lambda exc: _error_page(exc.code or 500, exc.description or exc.name))  # type: ignore[arg-type]


def render(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    """The page with the base template's context: the officer, the title, the errors (``FormErrors``)."""
    context.setdefault("errors", FormErrors())
    return render_template(template, officer=officer(), **context), status


def service_error_to_form(errors: FormErrors, exc: ServiceError, field_of: Callable[[ServiceError], str]) -> None:
    """Puts a service's refusal on the form, against the field it is about."""
    errors.add(field_of(exc), exc.message)
