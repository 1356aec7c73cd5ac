"""This request's own state, in one typed place rather than loose ``flask.g`` attributes: who is calling, the pages'
signed-in officer, the request id and start time of the access log, the trace span, the log context to unbind, and
the cookies the response must clear or set.

``current()`` is this request's context: made on first use and kept on ``flask.g`` under one name, so every hook and
view reads the same fields with their types, and a new field is declared here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import g

if TYPE_CHECKING:
    from postman_gateway.core.auth import Caller, Officer

_KEY = "postman_request"


@dataclass
class RequestContext:
    request_id: str = ""  # the X-Request-Id answered and logged (observability)
    started: float | None = None  # time.perf_counter() when the request began: the access log's duration
    span: Any = None  # the request's trace span, with tracing on, and the token that detaches it at the end
    span_token: Any = None
    log_tokens: list[Any] = field(default_factory=list)  # the log context bound for this request, reset at its end
    caller: Caller | None = None  # who is calling, an API key or a session (auth; the pages for their officer)
    officer: Officer | None = None  # the pages' signed-in officer (``web.pages.officer``), once resolved
    officer_resolved: bool = False  # whether ``officer`` was looked up (None then means: not signed in)
    clear_session_cookie: bool = False  # the session cookie was refused: the response tells the browser to drop it
    new_pre_session: str | None = None  # a CSRF pre-session made for this response's form, set as its cookie

    @property
    def user_id(self) -> int:
        """The caller's user id: only once authenticated (a protected ``/v1`` route or a signed-in page)."""
        if self.caller is None:
            raise AttributeError("user_id: this request has no authenticated caller")
        return self.caller.user_id


def current() -> RequestContext:
    """This request's context."""
    context: RequestContext | None = g.get(_KEY)
    if context is None:
        context = RequestContext()
        setattr(g, _KEY, context)
    return context
