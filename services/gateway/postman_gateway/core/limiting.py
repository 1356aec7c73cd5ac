"""The gateway's rate limits, applied to the request being handled (see ``rate_limits`` for the counting)."""

from __future__ import annotations

from flask import Flask, current_app

from postman_gateway.core.rate_limits import GatewayLimits, LimitStore, RateLimiter, address_subject

EXTENSION = "postman_gateway.limits"


def install(app: Flask, limits: GatewayLimits, store: LimitStore) -> None:
    app.extensions[EXTENSION] = (limits, RateLimiter(store))


def _limits() -> tuple[GatewayLimits, RateLimiter]:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def check_api_limit(user_id: int) -> None:
    """``API_RATE_LIMIT`` requests per user per second, over the whole API."""
    limits, limiter = _limits()
    limiter.check(limits.api, str(user_id))


def check_send_limit(user_id: int, rate_limit: int) -> None:
    """The user's own sends per second (``postmanctl set-rate-limit``, else ``SEND_RATE_LIMIT_DEFAULT``)."""
    limits, limiter = _limits()
    limiter.check(limits.send(rate_limit), str(user_id))


def check_test_email_limits(user_id: int, rate_limit: int, campaign_id: int) -> None:
    """A test email is a send: it counts against the user's send limit, then against
    ``TEST_EMAILS_PER_CAMPAIGN_PER_DAY`` for this user's campaign (keyed by user and campaign, so another user's
    requests for the same campaign id, refused as not theirs, never use up the owner's tests)."""
    limits, limiter = _limits()
    limiter.check(limits.send(rate_limit), str(user_id))
    limiter.check(limits.test_emails_per_campaign, f"{user_id}:{campaign_id}")


def check_otp_limits(ip: str, email: str) -> None:
    """``OTP_IP_LIMIT_PER_HOUR`` per client IP, then ``OTP_EMAIL_LIMIT_PER_HOUR`` per address. The address is
    counted even when it turns out not to be allowed, so probing the allowlist costs the same as asking."""
    limits, limiter = _limits()
    limiter.check(limits.otp_per_ip, ip or "unknown")
    limiter.check(limits.otp_per_address, address_subject(email))


def check_login_limit(ip: str) -> None:
    """``LOGIN_IP_LIMIT_PER_HOUR`` one-time passwords typed per client IP, over every address: auth counts the wrong
    tries of each (address, client IP), this bounds how many addresses one client can guess at."""
    limits, limiter = _limits()
    limiter.check(limits.login_per_ip, ip or "unknown")


def check_unsubscribe_limit(ip: str) -> None:
    """``UNSUBSCRIBE_IP_LIMIT_PER_MINUTE`` unsubscribe requests (page, one-click, API) per client IP."""
    limits, limiter = _limits()
    limiter.check(limits.unsubscribe_per_ip, ip or "unknown")


def check_sns_limit(ip: str) -> None:
    """``SNS_IP_LIMIT_PER_MINUTE`` SNS messages (``/callbacks/ses/events``) per client IP: genuine SNS delivers
    from many addresses, well under it; what it stops is one host flooding the route with messages to verify."""
    limits, limiter = _limits()
    limiter.check(limits.sns_per_ip, ip or "unknown")


def check_protect_limit(ip: str) -> None:
    """``PROTECT_IP_LIMIT_PER_HOUR`` attempts to open a password-protected message per client IP."""
    limits, limiter = _limits()
    limiter.check(limits.protect_per_ip, ip or "unknown")
