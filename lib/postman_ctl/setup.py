"""Preparing the stores: database created and migrated, RabbitMQ policies set and topology declared. Idempotent."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pika
import psycopg2
from psycopg2 import sql

from postman_ctl.broker_setup import prepare_broker
from postman_shared.broker.management import ManagementApiError
from postman_shared.credentials import create_key_file
from postman_shared.grpc.certificates import ensure_certificates
from postman_shared.settings import Settings
from postman_shared.unsubscribe_links import is_local_development

REPO_ROOT = Path(__file__).resolve().parents[2]


class DependencyUnavailable(RuntimeError):
    pass


def _maintenance_dsn(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "postgres"
    return parts._replace(path="/postgres").geturl(), name


def check_postgres(database_url: str) -> None:
    dsn, _ = _maintenance_dsn(database_url)
    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        host = urlsplit(database_url).hostname
        raise DependencyUnavailable(
            f"PostgreSQL is not reachable at {host} ({str(exc).strip()}).\n"
            "  Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "  or install and start it with: make services"
        ) from None


def check_rabbitmq(amqp_url: str) -> None:
    try:
        pika.BlockingConnection(pika.URLParameters(amqp_url)).close()
    except pika.exceptions.AMQPError as exc:
        host = urlsplit(amqp_url).hostname
        raise DependencyUnavailable(
            f"RabbitMQ is not reachable at {host} ({exc!r}).\n"
            "  Start it with: rabbitmq-server -detached\n"
            "  or install and start it with: make services"
        ) from None


def create_database(database_url: str) -> bool:
    """Creates the database named in the URL if it does not exist. Returns True if it was created."""
    dsn, name = _maintenance_dsn(database_url)
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def setup(settings: Settings) -> list[str]:
    """Everything ``make run`` needs before the services start. Returns what it did, for printing."""
    check_postgres(settings.database_url)
    check_rabbitmq(settings.amqp_url)
    done = []
    if create_database(settings.database_url):
        done.append("created database")
    migrate(settings.database_url)
    done.append("database migrated")
    try:
        done.extend(prepare_broker(settings.amqp_url, settings.rabbitmq_management_url,
                                   settings.queue_delivery_limit, settings.dead_letter_retention_days))
    except ManagementApiError as exc:
        raise DependencyUnavailable(f"cannot set the RabbitMQ queue policies: {exc}") from None
    for folder in (settings.upload_dir, settings.outbox_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if not settings.credentials_key and not settings.credentials_kms_key_id:
        done.extend(_development_credentials_key(settings.credentials_key_file))
    if not settings.grpc_insecure and is_local_development(settings.public_url):
        done.extend(_development_certificates(settings.grpc_tls_dir))
    return done


def _development_certificates(folder: Path) -> list[str]:
    """The local authority and every service's certificate (mutual TLS between the services), where missing.
    A cluster mounts certificates from Secrets instead (cert-manager, or ``postmanctl certs`` once)."""
    try:
        return ensure_certificates(folder)
    except OSError as exc:
        return [f"could not create the service certificates in {folder} ({exc.strerror}); run postmanctl certs"]


def _development_credentials_key(path: Path) -> list[str]:
    try:
        created = create_key_file(path)
    except OSError as exc:  # e.g. a read-only root filesystem in a cluster, where CREDENTIALS_KEY belongs anyway
        return [f"could not create the credentials master key {path} ({exc.strerror}); set CREDENTIALS_KEY"]
    if created:
        return [f"created the credentials master key {path} (development only: set CREDENTIALS_KEY in production)"]
    return []
