"""Secrets and development shortcuts outside local development (issue 13, "Known holes").

Off this machine (PUBLIC_URL not on loopback) every service refuses to start with a signing key that is the
repository's default, empty, a placeholder or shorter than 32 bytes, and says which setting; the development outbox
refuses a non-loopback bind; SMTP credentials are never sent without TLS. Each use of CALLBACK_SIGNING_KEY and
UPLOAD_SIGNING_KEY signs with its own derived key (HKDF), signer and verifier agreeing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from postman_gateway.bootstrap import GatewayServer
from postman_sender_email import return_path
from postman_sender_email.bootstrap import build_transport
from postman_sender_email.transports.smtp import SmtpTransport
from postman_shared import keys
from postman_shared.callbacks import sms_status_path, verify_sms_status
from postman_shared.object_store import upload_signature, verify_upload_signature
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings, SettingsError
from postman_shared.startup_checks import check_startup, is_loopback_host
from postman_shared.webhooks import is_telegram_webhook_secret, telegram_webhook_secret

STRONG = "9f" * 32  # 64 hex characters, as `openssl rand -hex 32` makes
STRONG_CREDENTIALS_KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M="  # base64 of 32 bytes
# A production deployment with every secret good: each test spoils one.
PRODUCTION = replace(
    Settings(), public_url="https://postman.agency.gov.sg", gateway_host="0.0.0.0", email_transport="ses",
    upload_signing_key=STRONG, callback_signing_key=STRONG, unsubscribe_keys=f"v1:{STRONG}",
    protect_decoy_key=STRONG, credentials_key=STRONG_CREDENTIALS_KEY, metrics_port=0, log_format="console")

# (service, the setting it uses, the attribute)
USES = [
    ("gateway", "CALLBACK_SIGNING_KEY", "callback_signing_key"),
    ("gateway", "UPLOAD_SIGNING_KEY", "upload_signing_key"),
    ("campaign", "UPLOAD_SIGNING_KEY", "upload_signing_key"),
    ("campaign", "PROTECT_DECOY_KEY", "protect_decoy_key"),
    ("sender-sms", "CALLBACK_SIGNING_KEY", "callback_signing_key"),
    ("sender-telegram", "CALLBACK_SIGNING_KEY", "callback_signing_key"),
]


def start(service: str, settings: Settings) -> object:
    """What a service's bootstrap builds first: the gateway's server or the ServiceRuntime."""
    if service == "gateway":
        return GatewayServer(settings)
    return ServiceRuntime(service, settings)


@pytest.mark.parametrize("service, name, attribute", USES)
@pytest.mark.parametrize("value", [
    pytest.param(None, id="the repository's default"),
    pytest.param("", id="empty"),
    pytest.param("0123456789abcdef0123456789abcde", id="31 bytes"),
    pytest.param("CHANGE-ME-to-64-random-hex-characters", id="the deployment example's placeholder"),
])
def test_a_service_off_this_machine_refuses_to_start_with_a_known_empty_or_short_key_and_names_it(
        service, name, attribute, value):
    default = getattr(Settings(), attribute)
    settings = replace(PRODUCTION, **{attribute: default if value is None else value})

    with pytest.raises(SettingsError) as refused:
        start(service, settings)

    assert name in str(refused.value) and service in str(refused.value)
    assert "openssl rand" in str(refused.value)  # and how to make a good one


@pytest.mark.parametrize("service", ["gateway", "renderer"])
def test_a_short_unsubscribe_key_is_refused_off_this_machine(service):
    with pytest.raises(SettingsError, match="UNSUBSCRIBE_KEYS"):
        start(service, replace(PRODUCTION, unsubscribe_keys=f"v2:{STRONG},v1:only-sixteen-chars"))


@pytest.mark.parametrize("service", ["sender-sms", "sender-telegram"])
def test_the_development_credentials_key_file_is_refused_off_this_machine(service):
    with pytest.raises(SettingsError, match="CREDENTIALS_KEY"):
        start(service, replace(PRODUCTION, credentials_key=""))


@pytest.mark.parametrize("service", ["gateway", "campaign", "renderer", "sender-email", "sender-sms",
                                     "sender-telegram", "auth", "stats"])
def test_good_secrets_pass_and_the_development_defaults_pass_on_this_machine(service):
    check_startup(PRODUCTION, service)
    check_startup(replace(Settings(), public_url="http://localhost:8080"), service)
    check_startup(replace(Settings(), public_url="http://127.0.0.1:8080"), service)


def test_a_service_that_does_not_use_a_key_does_not_ask_for_it():
    check_startup(replace(PRODUCTION, object_store="s3", upload_signing_key=""), "gateway")  # S3 presigns itself
    check_startup(replace(PRODUCTION, callback_signing_key=""), "sender-email")  # no VERP return paths


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("postman.agency.gov.sg", False), ("", False),
    ("localhost.evil.example", False),
])
def test_what_counts_as_this_machine(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("service", ["gateway", "sender-email"])
def test_the_outbox_transport_refuses_to_start_on_a_bind_other_machines_reach(service):
    local = replace(Settings(), public_url="http://localhost:8080", email_transport="outbox", metrics_port=0,
                    log_format="console")
    with pytest.raises(SettingsError, match="GATEWAY_HOST"):
        start(service, replace(local, gateway_host="0.0.0.0"))
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        start(service, replace(PRODUCTION, email_transport="outbox", gateway_host="127.0.0.1"))
    check_startup(replace(local, gateway_host="127.0.0.1"), service)


def test_smtp_credentials_are_never_sent_without_tls():
    with pytest.raises(SettingsError, match="SMTP_STARTTLS"):
        SmtpTransport("smtp.agency.gov.sg", 587, username="postman", password="secret", starttls=False)
    with pytest.raises(SettingsError, match="SMTP_STARTTLS"):  # a relay on this machine too: the issue says refuse
        build_transport(replace(Settings(), email_transport="smtp", smtp_host="127.0.0.1", smtp_username="postman",
                                smtp_password="secret"))
    SmtpTransport("smtp.agency.gov.sg", 587, username="postman", password="secret", starttls=True).close()
    SmtpTransport("127.0.0.1", 25).close()  # no AUTH, no credentials to protect


# --- one key per purpose ------------------------------------------------------------------------------------------

def _raw(key: str, text: str) -> bytes:
    """What the signatures were before: an HMAC under CALLBACK_SIGNING_KEY itself."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()


def test_each_purpose_has_its_own_key_derived_from_the_secret():
    purposes = [keys.TWILIO_STATUS_URL, keys.TELEGRAM_WEBHOOK_SECRET, keys.VERP_RETURN_PATH, keys.CSRF_TOKEN,
                keys.UPLOAD_URL]
    derived = [keys.purpose_key(STRONG, purpose) for purpose in purposes]
    assert len(set(derived)) == len(purposes) and all(len(k) == 32 for k in derived)
    assert STRONG.encode() not in derived
    assert keys.purpose_key(STRONG, keys.CSRF_TOKEN) != keys.purpose_key("8e" * 32, keys.CSRF_TOKEN)
    with pytest.raises(ValueError):
        keys.purpose_key("", keys.CSRF_TOKEN)


def test_telegram_webhook_secrets_use_their_own_key_and_the_gateway_agrees():
    secret = telegram_webhook_secret(STRONG, 7)
    old = base64.urlsafe_b64encode(_raw(STRONG, "telegram-webhook:7")).rstrip(b"=").decode()
    assert secret != old
    assert is_telegram_webhook_secret(STRONG, 7, secret) and not is_telegram_webhook_secret(STRONG, 7, old)
    assert not is_telegram_webhook_secret(STRONG, 8, secret)


def test_twilio_callback_urls_use_their_own_key_and_the_gateway_agrees():
    path = sms_status_path(41, 1001, 3, STRONG)
    sig = path.rsplit("/", 1)[1]
    old = base64.urlsafe_b64encode(_raw(STRONG, "sms-status:41:1001:3")).rstrip(b"=").decode()[:32]
    assert sig != old
    assert verify_sms_status(41, 1001, 3, sig, STRONG) and not verify_sms_status(41, 1001, 3, old, STRONG)


def test_verp_return_paths_use_their_own_key_and_the_bounce_reader_agrees():
    address = return_path.address_for("bounce@bounces.agency.gov.sg", "1001", STRONG)
    old = _raw(STRONG, "verp:1001").hex()[:return_path.SIGNATURE_LENGTH]
    assert not address.startswith(f"bounce+1001-{old}@")
    assert return_path.message_id_of(address, "bounce@bounces.agency.gov.sg", STRONG) == "1001"
    assert return_path.message_id_of(f"bounce+1001-{old}@bounces.agency.gov.sg", "bounce@bounces.agency.gov.sg",
                                     STRONG) is None


def test_upload_urls_use_their_own_key_and_the_gateway_agrees():
    signature = upload_signature(STRONG, "k1", 4_000_000_000, "md5")
    old = hmac.new(STRONG.encode(), b"PUT\nk1\n4000000000\nmd5", hashlib.sha256).hexdigest()
    assert signature != old
    assert verify_upload_signature(STRONG, "k1", "4000000000", "md5", signature) is None
    assert verify_upload_signature(STRONG, "k1", "4000000000", "md5", old) is not None


def test_csrf_tokens_use_their_own_key(settings):
    from postman_gateway.app import create_app
    from postman_gateway.web import csrf

    app = create_app(replace(settings, callback_signing_key=STRONG))
    assert app.extensions[csrf.EXTENSION] == keys.purpose_key(STRONG, keys.CSRF_TOKEN)
    assert app.extensions[csrf.EXTENSION] != hashlib.sha256(("csrf:" + STRONG).encode()).digest()


def test_a_refused_start_says_why_in_one_sentence_not_a_stack_trace(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.endswith(("_KEY", "_KEYS", "PUBLIC_URL"))}
    env.update(PUBLIC_URL="https://postman.agency.gov.sg", METRICS_PORT="0", CREDENTIALS_KEY=STRONG_CREDENTIALS_KEY)
    started = subprocess.run([sys.executable, "-m", "postman_sender_sms"], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)

    assert started.returncode == 2
    assert "Traceback" not in started.stderr
    assert started.stderr.startswith("sender-sms refuses to start") and "CALLBACK_SIGNING_KEY" in started.stderr
