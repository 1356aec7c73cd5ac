"""Alembic environment: one migration history for the tables of every service (each service owns its tables;
docs/architecture.md lists the owners). The database URL comes from DATABASE_URL like everything else."""

from alembic import context
from sqlalchemy import create_engine, pool

from postman_auth.models import Base as AuthBase
from postman_campaign.models import Base as CampaignBase
from postman_renderer.models import Base as RendererBase
from postman_sender_email.models import Base as SenderEmailBase
from postman_sender_sms.models import Base as SenderSmsBase
from postman_sender_telegram.models import Base as SenderTelegramBase
from postman_shared.db import sqlalchemy_url
from postman_shared.settings import Settings
from postman_stats.models import Base as StatsBase

target_metadata = [m.metadata for m in (AuthBase, CampaignBase, RendererBase, SenderEmailBase, SenderSmsBase,
                                         SenderTelegramBase, StatsBase)]


def _url() -> str:
    return sqlalchemy_url(context.config.attributes.get("database_url") or Settings.from_env().database_url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
