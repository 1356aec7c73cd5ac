"""postmanctl: users, API keys, the audit trail, agencies, credentials key rotation, setup.

Thin: the work is done by the services' operator modules (``postman_auth.operator``, ``postman_campaign.operator``),
their gRPC APIs and the command modules next to this one."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import OperationalError

from postman_auth import operator as auth
from postman_ctl import (
    agency_command,
    audit_command,
    credentials_command,
    disable_user,
    dlq_command,
    domain_command,
    purge_command,
    suppression_command,
)
from postman_ctl import setup as setup_module
from postman_shared.db import Database
from postman_shared.grpc.certificates import ensure_certificates
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings, SettingsError


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    user = auth.create_user(Database(settings.database_url, pool_size=1), args.email,
                            rate_limit=settings.send_rate_limit_default)
    print(f"user {user.id} {user.email}")
    return 0


def _create_api_key(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, pool_size=1)
    valid_for = timedelta(days=args.days or settings.api_key_ttl_days)
    key = auth.create_api_key(database, args.email, args.label, valid_for,
                              rate_limit=settings.send_rate_limit_default, test=args.test)
    print(key)  # only the key on stdout, so that KEY=$(postmanctl create-api-key ...) works
    return 0


def _enable_user(args: argparse.Namespace, settings: Settings) -> int:
    user = auth.enable_user(Database(settings.database_url, pool_size=1), args.email)
    print(f"postmanctl: {user.email} is enabled", file=sys.stderr)
    return 0


def _set_rate_limit(args: argparse.Namespace, settings: Settings) -> int:
    user = auth.set_rate_limit(Database(settings.database_url, pool_size=1), args.email, args.per_second)
    print(f"postmanctl: {user.email} may send {user.rate_limit} messages per second", file=sys.stderr)
    return 0


def _setup(_args: argparse.Namespace, settings: Settings) -> int:
    for line in setup_module.setup(settings):
        print(f"postmanctl: {line}", file=sys.stderr)
    return 0


def _certs(args: argparse.Namespace, settings: Settings) -> int:
    folder = Path(args.dir) if args.dir else settings.grpc_tls_dir
    done = ensure_certificates(folder, hosts=args.host)
    for line in done or [f"every service already has a certificate in {folder}"]:
        print(f"postmanctl: {line}", file=sys.stderr)
    return 0


def _check(_args: argparse.Namespace, settings: Settings) -> int:
    setup_module.check_postgres(settings.database_url)
    setup_module.check_rabbitmq(settings.amqp_url)
    print("postmanctl: PostgreSQL and RabbitMQ are reachable", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postmanctl", description="Operate a Postman installation.")
    commands = parser.add_subparsers(dest="command", required=True)

    create_user = commands.add_parser("create-user", help="create a user (no-op if it exists)")
    create_user.add_argument("email")
    create_user.set_defaults(run=_create_user)

    create_key = commands.add_parser("create-api-key", help="create an API key, creating the user if needed")
    create_key.add_argument("email")
    create_key.add_argument("--label", default="default")
    create_key.add_argument("--days", type=_positive, default=0,
                            help="expire after this many days (default: API_KEY_TTL_DAYS, 180)")
    create_key.add_argument("--test", action="store_true",
                            help="a test key (test_v1_...): its messages are simulated, never sent to a provider")
    create_key.set_defaults(run=_create_api_key)

    disable = commands.add_parser("disable-user", help="disable a user: sessions end and API keys stop at once, "
                                  "scheduled sends are cancelled and sending campaigns stopped (needs CAMPAIGN_ADDR)")
    disable.add_argument("email")
    disable.set_defaults(run=disable_user.run)

    enable = commands.add_parser("enable-user", help="allow a disabled user to sign in and use keys again")
    enable.add_argument("email")
    enable.set_defaults(run=_enable_user)

    rate = commands.add_parser("set-rate-limit", help="set how many messages per second a user may send")
    rate.add_argument("email")
    rate.add_argument("per_second", type=_positive, metavar="N")
    rate.set_defaults(run=_set_rate_limit)

    audit_command.add_parser(commands)
    credentials_command.add_parser(commands)
    suppression_command.add_parser(commands)
    domain_command.add_parser(commands)
    agency_command.add_parser(commands)
    dlq_command.add_parser(commands)
    purge_command.add_parser(commands)

    commands.add_parser("setup", help="create and migrate the database, set queue policies, declare queues") \
        .set_defaults(run=_setup)
    certs = commands.add_parser("certs", help="create a local CA and each service's certificate (mutual TLS "
                                              "between the services); keeps the ones that exist")
    certs.add_argument("--dir", default="", help="where (default: GRPC_TLS_DIR, var/certs)")
    certs.add_argument("--host", action="append", default=[],
                       help="another name or address the services' certificates answer to (repeatable)")
    certs.set_defaults(run=_certs)
    commands.add_parser("check", help="check PostgreSQL and RabbitMQ are reachable").set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.run(args, settings))
    except (SettingsError, setup_module.DependencyUnavailable, auth.InvalidEmail) as exc:
        print(f"postmanctl: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"postmanctl: {exc.message}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
        print(f"postmanctl: cannot use the database ({reason}); is it running and migrated? "
              "Try: postmanctl check", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
