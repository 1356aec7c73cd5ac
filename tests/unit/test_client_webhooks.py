"""Client webhooks' pure parts: the signature a client checks, the URLs and addresses we refuse to call (SSRF), the
backoff, the event's wire form, and the start-up refusal of WEBHOOK_ALLOW_PRIVATE off localhost."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import replace

import pytest

from postman_shared import client_webhooks as hooks
from postman_shared.client_webhooks import ClientWebhookEvent, RefusedUrl
from postman_shared.settings import Settings, SettingsError
from postman_shared.startup_checks import check_webhooks

SECRET = "whsec_" + "ab" * 32


def test_a_signature_verifies_and_anything_changed_does_not():
    body = b'{"id":"email-1-sent","type":"email.status"}'
    header = hooks.signature_header(SECRET, body)
    assert hooks.verify(SECRET, header, body)
    assert not hooks.verify(SECRET, header, body + b" ")
    assert not hooks.verify("whsec_other", header, body)
    assert not hooks.verify(SECRET, header.replace("v1=", "v1=0"), body)
    assert not hooks.verify(SECRET, "", body)
    old = hooks.signature_header(SECRET, body, timestamp=int(time.time()) - 3600)
    assert not hooks.verify(SECRET, old, body)  # a replay an hour later
    assert hooks.verify(SECRET, old, body, now=time.time() - 3600)


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body():
    import hashlib
    import hmac

    body = b"{}"
    expected = hmac.new(SECRET.encode(), b"1700000000.{}", hashlib.sha256).hexdigest()
    assert hooks.signature_header(SECRET, body, timestamp=1700000000) == f"t=1700000000,v1={expected}"


def test_the_documented_verification_example_accepts_our_signature():
    """docs/webhooks.md's Python example, run as written against a delivery we sign."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "webhooks.md", "exec"), namespace)  # noqa: S102 - our own documentation
    body = b'{"id":"campaign-finished-7","type":"campaign.finished","created_at":"2026-12-05T00:00:00+00:00"}'
    header = hooks.signature_header(SECRET, body)
    assert namespace["verify_postman_signature"](SECRET, header, body) is True
    assert namespace["verify_postman_signature"](SECRET, header, body[:-1]) is False


@pytest.mark.parametrize("url, reason", [
    ("http://example.gov.sg/hook", "https"),
    ("ftp://example.gov.sg/hook", "https"),
    ("https://user:pw@example.gov.sg/hook", "user name"),
    ("https:///hook", "host"),
    ("https://example.gov.sg:99999/hook", "port"),
    ("https://example.gov.sg/a b", "spaces"),
    ("", "required"),
    ("https://example.gov.sg/" + "a" * 2000, "at most"),
])
def test_urls_of_the_wrong_form_are_refused(url, reason):
    with pytest.raises(RefusedUrl, match=reason):
        hooks.check_url(url)


def test_http_is_allowed_only_for_local_development():
    assert hooks.check_url("http://127.0.0.1:8000/hook", allow_private=True).port == 8000


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                  "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
                                  "[::1]", "[::]", "[fe80::1]", "[fc00::1]", "[::ffff:127.0.0.1]",
                                  "[::ffff:169.254.169.254]", "[64:ff9b::a00:1]", "[2002:a00:1::]",
                                  "[ff02::1]", "192.0.2.1"])
def test_addresses_that_are_not_public_are_refused(host):
    with pytest.raises(RefusedUrl, match="loopback, private"):
        hooks.checked_addresses(hooks.check_url(f"https://{host}/hook"), resolver=_never)


def _never(host: str, port: int) -> list[str]:
    raise AssertionError("an address literal is not resolved")


def test_a_host_name_resolving_to_a_private_address_is_refused_after_resolution():
    parts = hooks.check_url("https://internal.example.gov.sg/hook")
    with pytest.raises(RefusedUrl, match="resolves to a loopback, private"):
        hooks.checked_addresses(parts, resolver=lambda host, port: ["10.0.0.5"])
    with pytest.raises(RefusedUrl, match="resolves to"):  # one private address among public ones is enough
        hooks.checked_addresses(parts, resolver=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(RefusedUrl, match="does not resolve"):
        hooks.checked_addresses(parts, resolver=lambda host, port: [])


def test_localhost_is_refused_through_the_real_resolver():
    with pytest.raises(RefusedUrl):
        hooks.checked_addresses(hooks.check_url("https://localhost/hook"))


def test_public_addresses_are_allowed():
    parts = hooks.check_url("https://hooks.example.gov.sg/postman")
    assert hooks.checked_addresses(parts, resolver=lambda h, p: ["93.184.215.14", "2606:2800:21f:cb07::1"]) == \
        ["93.184.215.14", "2606:2800:21f:cb07::1"]
    assert hooks.is_public(ipaddress.ip_address("8.8.8.8"))


def test_post_never_connects_to_a_refused_address():
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["169.254.169.254"]

    attempt = hooks.post("https://metadata.example/latest", b"{}", {}, timeout=1, resolver=resolver)
    assert (attempt.delivered, attempt.refused, attempt.outcome, attempt.status_code) == (False, True, "refused",
                                                                                           None)
    assert "loopback, private" in attempt.error
    assert calls == ["metadata.example"]  # resolved once: the address checked is the one that would be used


def test_backoff_doubles_from_the_base_up_to_an_hour():
    assert [hooks.retry_delay_seconds(n, 10) for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert hooks.retry_delay_seconds(20, 10) == 3600


def test_an_event_goes_through_the_queue_unchanged_and_a_bad_one_is_refused():
    event = ClientWebhookEvent(event_id="sms-4-delivered", user_id=3, kind="transactional", type="sms.status",
                               occurred_at="2026-12-05T00:00:00+00:00", data={"status": "DELIVERED"})
    assert ClientWebhookEvent.from_dict(event.to_dict()) == event
    assert event.payload() == (b'{"id":"sms-4-delivered","type":"sms.status","created_at":"2026-12-05T00:00:00+00:00"'
                               b',"data":{"status":"DELIVERED"}}')
    with pytest.raises(TypeError):
        ClientWebhookEvent.from_dict({**event.to_dict(), "kind": "everything"})
    with pytest.raises(KeyError):
        ClientWebhookEvent.from_dict({"user_id": 1})


def test_allowing_private_addresses_is_refused_off_localhost():
    local = replace(Settings.from_env({}), webhook_allow_private=True)
    check_webhooks(local, "stats")  # make run, the tests
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOW_PRIVATE"):
        check_webhooks(replace(local, public_url="https://postman.agency.gov.sg"), "stats")
    check_webhooks(replace(local, public_url="https://postman.agency.gov.sg", webhook_allow_private=False), "stats")
    assert Settings.from_env({"WEBHOOK_ALLOW_PRIVATE": "true"}).webhook_allow_private


def test_a_batch_of_events_is_decoded_with_each_attempt_and_a_malformed_one_set_aside():
    import orjson

    from postman_shared.broker.consumer import Delivery
    from postman_shared.broker.waiting import ATTEMPT_HEADER
    from postman_stats.client_webhooks import decode

    event = ClientWebhookEvent(event_id="campaign-9-finished", user_id=3, kind="campaign", type="campaign.finished",
                               occurred_at="2026-12-05T00:00:00+00:00", data={"sent": 10})
    good = Delivery(1, "a", False, orjson.dumps(event.to_dict()), {ATTEMPT_HEADER: 3})
    first = Delivery(2, "b", False, orjson.dumps(event.to_dict()), {})
    not_json = Delivery(3, "c", False, b"{not json", {})
    wrong_kind = Delivery(4, "d", False, orjson.dumps({**event.to_dict(), "kind": "everything"}), {})
    events, malformed = decode([good, first, not_json, wrong_kind])
    assert events == [(event, 3), (event, 1)]
    assert malformed == [not_json, wrong_kind]
