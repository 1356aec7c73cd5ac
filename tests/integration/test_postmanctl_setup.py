"""`postmanctl setup` / `check`: what `make run` runs first, and what it says when a store is down.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv
and output, as in a process of its own), a second of imports cheaper per call than a subprocess.
``test_an_unreachable_postgresql_is_named_with_how_to_start_it`` runs it as a real subprocess (``python -m
postman_ctl.cli check``): exit status 2 and no traceback from the command itself."""

from __future__ import annotations

import subprocess

from tests.support.postmanctl import as_subprocess, in_process
from tests.support.stores import free_port


def _postmanctl(*args: str, real_process: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    return (as_subprocess if real_process else in_process)(args, {"PATH": "/usr/bin:/bin", **env})


def test_an_unreachable_postgresql_is_named_with_how_to_start_it(stores):
    result = _postmanctl("check", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/postman",
                         AMQP_URL=stores.amqp_url, real_process=True)
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
