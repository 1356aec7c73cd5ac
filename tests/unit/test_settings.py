"""Settings come from the environment only, with clear errors, and every one is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from postman_shared.settings import Settings, SettingsError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_match_the_documented_local_setup():
    settings = Settings.from_env({})
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/postman"
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert settings.gateway_port == 8080
    assert settings.email_transport == "outbox"
    assert settings.public_url == "http://localhost:8080"


def test_public_url_follows_the_gateway_port_unless_set():
    assert Settings.from_env({"GATEWAY_PORT": "9000"}).public_url == "http://localhost:9000"
    assert Settings.from_env({"PUBLIC_URL": "https://postman.example/"}).public_url == "https://postman.example"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_PORT": "eighty"}, "GATEWAY_PORT must be a whole number"),
        ({"EMAIL_TRANSPORT": "carrier-pigeon"}, "EMAIL_TRANSPORT must be one of outbox, smtp, ses"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS must be true or false"),
        ({"EMAIL_MAX_ATTEMPTS": "0"}, "EMAIL_MAX_ATTEMPTS must be at least 1, got '0'"),
    ],
)
def test_a_bad_value_names_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_every_setting_is_documented_in_the_readme():
    readme = README.read_text()
    missing = [name for name in Settings().env_names() if f"`{name}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"
