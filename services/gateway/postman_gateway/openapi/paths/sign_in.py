"""The ``Sign-in`` tag: the one-time password, the session, who is calling, signing out."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import CALLER_ERRORS, Operation, json_body, ok, op, ref_example
from postman_gateway.openapi.schemas import obj, ref


def operations() -> list[Operation]:
    email = {"type": "string", "format": "email"}
    return [
        op("POST", "/v1/auth/otp", "Sign-in", "Email a one-time password",
           "Emails a one-time password to an allowed agency address. Limited per client IP and per address.",
           ok(200, "The password was sent.", ref("MessageResult"),
              {"message": "A one-time password was sent to officer@agency.gov.sg; it is valid for 10 minutes"}),
           errors=(400, 403, 429, 500, 503), public=True,
           body=json_body(obj({"email": email}, ("email",)), {"email": "officer@agency.gov.sg"})),
        op("POST", "/v1/auth/login", "Sign-in", "Sign in with the one-time password",
           "Starts a session: the response sets the `postman_session` cookie (HttpOnly). A request whose `Origin` "
           "is another site is refused (403), and so is an address whose domain is no longer allowed. Wrong "
           "passwords are counted per address and client IP (a few tries each); sign-in attempts are limited per "
           "client IP (`LOGIN_IP_LIMIT_PER_HOUR`, 429).",
           ok(200, "Signed in; the cookie is set.", ref("UserInfo"),
              {"id": 3, "email": "officer@agency.gov.sg", "rate_limit": 10, "authenticated_by": "session"}),
           errors=(400, 401, 403, 429, 500, 503), public=True,
           body=json_body(obj({"email": email, "otp": {"type": "string"}}, ("email", "otp")),
                          {"email": "officer@agency.gov.sg", "otp": "ABC123"})),
        op("GET", "/v1/auth/userinfo", "Sign-in", "Who is calling",
           "The caller, and whether this request was authenticated by an API key or a session.",
           ok(200, "The caller.", ref("UserInfo"), ref_example("UserInfo"))),
        op("GET", "/v1/auth/logout", "Sign-in", "Sign out",
           "Ends the session server-side and clears the cookie. Only a session signs out (an API key is revoked "
           "with `DELETE /v1/api-key/{id}`): with an API key this is 403.",
           ok(200, "Signed out.", ref("MessageResult"), {"message": "Signed out"}), errors=(403, *CALLER_ERRORS)),
    ]
