"""postmanctl: create-user, create-api-key, setup."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from postman_auth import api_keys
from postman_ctl import setup as setup_module
from postman_shared.db import Database
from postman_shared.settings import Settings, SettingsError


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, pool_size=1)
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, args.email)
        print(f"user {user.id} {user.email}")
    return 0


def _create_api_key(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, pool_size=1)
    valid_for = timedelta(days=args.days) if args.days else None
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, args.email)
        key = api_keys.create_api_key(session, user, args.label, valid_for)
    print(key)  # only the key on stdout, so that KEY=$(postmanctl create-api-key ...) works
    return 0


def _setup(_args: argparse.Namespace, settings: Settings) -> int:
    for line in setup_module.setup(settings):
        print(f"postmanctl: {line}", file=sys.stderr)
    return 0


def _check(_args: argparse.Namespace, settings: Settings) -> int:
    setup_module.check_postgres(settings.database_url)
    setup_module.check_rabbitmq(settings.amqp_url)
    print("postmanctl: PostgreSQL and RabbitMQ are reachable", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postmanctl", description="Operate a Postman installation.")
    commands = parser.add_subparsers(dest="command", required=True)

    create_user = commands.add_parser("create-user", help="create a user (no-op if it exists)")
    create_user.add_argument("email")
    create_user.set_defaults(run=_create_user)

    create_key = commands.add_parser("create-api-key", help="create an API key, creating the user if needed")
    create_key.add_argument("email")
    create_key.add_argument("--label", default="default")
    create_key.add_argument("--days", type=int, default=0, help="expire after this many days (default: never)")
    create_key.set_defaults(run=_create_api_key)

    commands.add_parser("setup", help="create and migrate the database, declare queues").set_defaults(run=_setup)
    commands.add_parser("check", help="check PostgreSQL and RabbitMQ are reachable").set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.run(args, settings))
    except (SettingsError, setup_module.DependencyUnavailable, api_keys.InvalidEmail) as exc:
        print(f"postmanctl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
