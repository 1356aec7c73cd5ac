"""`postmanctl setup` / `check`: what `make run` runs first, and what it says when a store is down."""

from __future__ import annotations

import subprocess
import sys

from tests.support.stores import free_port


def _postmanctl(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postman_ctl.cli", *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **env}, timeout=60)


def test_an_unreachable_postgresql_is_named_with_how_to_start_it(stores):
    result = _postmanctl("check", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/postman",
                         AMQP_URL=stores.amqp_url)
    assert result.returncode == 2
    assert "PostgreSQL is not reachable" in result.stderr and "pg_ctlcluster" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_rabbitmq_is_named_with_how_to_start_it(stores):
    result = _postmanctl("check", DATABASE_URL=stores.database_url,
                         AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    assert result.returncode == 2
    assert "RabbitMQ is not reachable" in result.stderr and "rabbitmq-server -detached" in result.stderr
    assert "Traceback" not in result.stderr


def test_setup_is_idempotent_on_a_prepared_installation(stores, tmp_path):
    env = {"DATABASE_URL": stores.database_url, "AMQP_URL": stores.amqp_url, "UPLOAD_DIR": str(tmp_path / "u"),
           "OUTBOX_DIR": str(tmp_path / "o"), "CREDENTIALS_KEY_FILE": str(tmp_path / "credentials.key"),
           "GRPC_TLS_DIR": str(tmp_path / "certs")}
    outputs = []
    for _ in range(2):
        result = _postmanctl("setup", **env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stderr)
    assert "database migrated" in result.stderr and "topology declared" in result.stderr
    assert "RabbitMQ policy" not in outputs[1], "the run's vhost already has the policies: nothing to change"
    assert (tmp_path / "u").is_dir() and (tmp_path / "o").is_dir()
    # make run's services talk mutual TLS: the first setup makes the certificates, the next keeps them
    assert "created the certificate of campaign" in outputs[0] and "certificate" not in outputs[1]
    assert (tmp_path / "certs" / "campaign" / "tls.crt").is_file()


def test_setup_names_an_unreachable_management_api_and_what_to_check(stores, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = _postmanctl("setup", DATABASE_URL=stores.database_url, AMQP_URL=stores.amqp_url,
                         RABBITMQ_MANAGEMENT_URL=url, UPLOAD_DIR=str(tmp_path / "u"), OUTBOX_DIR=str(tmp_path / "o"),
                         CREDENTIALS_KEY_FILE=str(tmp_path / "credentials.key"), GRPC_TLS_DIR=str(tmp_path / "certs"))
    assert result.returncode == 2
    assert f"cannot set the RabbitMQ queue policies: RabbitMQ's management API is not reachable at {url}" \
        in result.stderr
    assert "rabbitmq_management" in result.stderr and "Traceback" not in result.stderr
