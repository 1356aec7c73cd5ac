"""``/v1/auth/...``: sign-in with a one-time password, who is signed in, sign-out.

``otp`` and ``login`` are public (``public_blueprint``); ``userinfo`` and ``logout`` need a caller
(``blueprint``, under the authentication hook). The auth service decides everything about addresses, passwords and
sessions; the gateway adds the client's IP, the per-IP and per-address limits (``LOGIN_IP_LIMIT_PER_HOUR`` on login),
and the cookie.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway.core import limiting, serializers
from postman_gateway.core.auth import SESSION, client_ip, current_caller, refuse_cross_site, require_session
from postman_gateway.core.backends import backends
from postman_gateway.core.sessions import cookie_policy
from postman_gateway.core.validation import json_body, required_string
from postman_shared.grpc import client

MAX_USER_AGENT = 512  # kept with the session for the user's own record; longer is noise

public_blueprint = Blueprint("signin", __name__, url_prefix="/auth")
blueprint = Blueprint("session", __name__, url_prefix="/auth")


@public_blueprint.post("/otp")
def request_otp() -> ResponseReturnValue:
    email = required_string(json_body(), "email")
    ip = client_ip()
    limiting.check_otp_limits(ip, email)
    result = client.call(backends().auth.RequestOtp, auth_pb2.RequestOtpRequest(email=email, ip=ip))
    minutes = max(1, result.valid_for_seconds // 60)
    return jsonify(message=f"A one-time password was sent to {email.strip()}; it is valid for {minutes} minutes")


@public_blueprint.post("/login")
def login() -> ResponseReturnValue:
    # A page of another site must not sign the browser in to an account of its choosing (login CSRF).
    refuse_cross_site()
    limiting.check_login_limit(client_ip())
    body = json_body()
    request_ = auth_pb2.LoginRequest(
        email=required_string(body, "email"),
        otp=required_string(body, "otp"),
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", "")[:MAX_USER_AGENT],
    )
    result = client.call(backends().auth.Login, request_)
    response = jsonify(serializers.user_info(result.user.id, result.user.email, result.user.rate_limit, SESSION))
    cookie_policy().set_cookie(response, result.session_token)
    return response


@blueprint.get("/userinfo")
def userinfo() -> ResponseReturnValue:
    caller = current_caller()
    return jsonify(serializers.user_info(caller.user_id, caller.email, caller.rate_limit, caller.authenticated_by))


@blueprint.get("/logout")
def logout() -> ResponseReturnValue:
    require_session("Signing out ends a signed-in session; an API key is revoked with DELETE /v1/api-key/{id}")
    client.call(backends().auth.Logout,
                auth_pb2.LogoutRequest(session_token=current_caller().session_token, ip=client_ip()))
    response = jsonify(message="Signed out")
    cookie_policy().clear_cookie(response)
    return response
