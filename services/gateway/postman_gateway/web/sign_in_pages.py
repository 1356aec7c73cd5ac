"""Signing in and out in the browser: the email address, then the one-time password it receives, then the page the
officer was going to; and signing out, which ends the session server-side at once.

These pages work signed out, so they are not a ``signed_in_blueprint``; their forms still carry a CSRF token (bound to
a pre-session cookie), so another site cannot sign a browser in to an account of its choosing. The auth service
decides everything about addresses, passwords and sessions, exactly as for ``/v1/auth``; the gateway adds the
one-time password limits per IP and per address, the sign-in attempts limit per IP, and the session cookie.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, make_response, redirect, request
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway.api.signin import MAX_USER_AGENT
from postman_gateway.core import limiting
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.core.sessions import SESSION_COOKIE, cookie_policy
from postman_gateway.web import csrf
from postman_gateway.web.dev_mailbox_pages import password_shortcut
from postman_gateway.web.pages import FormErrors, install_error_pages, officer, render
from postman_gateway.web.return_address import safe_next
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

MAX_ADDRESS_LENGTH = 320  # RFC 5321's limit; longer is not an address and is not sent to auth
MAX_PASSWORD_LENGTH = 64  # far above what auth issues

blueprint = Blueprint("sign_in", __name__, template_folder="templates")
install_error_pages(blueprint)


def _next() -> str:
    return safe_next(request.values.get("next"))


def _password_page_url(email: str, target: str, minutes: int | None = None) -> str:
    query = {"email": email, "next": target, **({"sent": str(minutes)} if minutes else {})}
    return "/sign-in/password?" + urlencode(query)


@blueprint.get("/sign-in")
def email_form() -> ResponseReturnValue:
    if officer() is not None:
        return redirect(_next())
    return render("sign_in/email.html", title="Sign in", email=request.args.get("email", "")[:MAX_ADDRESS_LENGTH],
                  next=_next(), signed_out=request.args.get("signed_out") == "1")


@blueprint.post("/sign-in")
def request_password() -> ResponseReturnValue:
    csrf.check()
    email = request.form.get("email", "").strip()
    errors = FormErrors()
    if not email:
        errors.add("email", "Enter your email address")
    elif len(email) > MAX_ADDRESS_LENGTH:
        errors.add("email", f"Your email address must be {MAX_ADDRESS_LENGTH} characters or fewer")
    else:
        try:
            limiting.check_otp_limits(client_ip(), email)
            sent = client.call(backends().auth.RequestOtp, auth_pb2.RequestOtpRequest(email=email, ip=client_ip()))
        except ServiceError as exc:
            # Not an address, not allowed to sign in, asked too often: said on the field, in auth's own words.
            errors.add("email", exc.message)
        else:
            minutes = max(1, sent.valid_for_seconds // 60)
            return redirect(_password_page_url(email, _next(), minutes), code=303)
    return render("sign_in/email.html", 400, title="Sign in", email=email, next=_next(), errors=errors)


def _password_page(email: str, errors: FormErrors | None = None, status: int = 200) -> ResponseReturnValue:
    sent = request.args.get("sent", "")
    return render("sign_in/password.html", status, title="Enter your one-time password", email=email, next=_next(),
                  errors=errors or FormErrors(), minutes=int(sent) if sent.isdigit() and len(sent) < 4 else None,
                  resend_url="/sign-in?" + urlencode({"email": email, "next": _next()}),
                  outbox_url=password_shortcut(email))


@blueprint.get("/sign-in/password")
def password_form() -> ResponseReturnValue:
    email = request.args.get("email", "").strip()
    if not email or len(email) > MAX_ADDRESS_LENGTH:
        return redirect("/sign-in?" + urlencode({"next": _next()}))
    if officer() is not None:
        return redirect(_next())
    return _password_page(email)


@blueprint.post("/sign-in/password")
def sign_in() -> ResponseReturnValue:
    csrf.check()
    email = request.form.get("email", "").strip()[:MAX_ADDRESS_LENGTH]
    password = "".join(request.form.get("password", "").split())  # spaces a person may type or paste are dropped
    errors = FormErrors()
    if not email:
        return redirect("/sign-in?" + urlencode({"next": _next()}))
    if not password:
        errors.add("password", "Enter the one-time password from the email")
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add("password", "That is not a one-time password: it is 6 characters long")
    else:
        try:
            limiting.check_login_limit(client_ip())
            result = client.call(backends().auth.Login, auth_pb2.LoginRequest(
                email=email, otp=password, ip=client_ip(),
                user_agent=request.headers.get("User-Agent", "")[:MAX_USER_AGENT]))
        except ServiceError as exc:
            errors.add("password", exc.message)  # wrong or expired, tries left, account disabled
        else:
            response = make_response(redirect(_next(), code=303))
            cookie_policy().set_cookie(response, result.session_token)
            return response
    return _password_page(email, errors, 400)


@blueprint.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    csrf.check()
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and len(token) <= 512 and token.isascii():
        # Ending an unknown or ended session does nothing, so signing out twice is harmless.
        client.call(backends().auth.Logout, auth_pb2.LogoutRequest(session_token=token, ip=client_ip()))
    response = make_response(redirect("/sign-in?signed_out=1", code=303))
    cookie_policy().clear_cookie(response)
    return response
