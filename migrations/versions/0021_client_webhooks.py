"""Client webhooks (issue 16): client_webhooks (a user's callback URL per kind, transactional or campaign, with its
secret sealed, its failure count and pause), client_webhook_attempts (the delivery log, the last attempts of each),
and the outboxes the events leave through: stats_outbox (owner notices of a paused webhook), sender_email_outbox and
sender_sms_outbox (transactional status events, written with the status change)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 13:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OUTBOXES = ('stats_outbox', 'sender_email_outbox', 'sender_sms_outbox')


def upgrade() -> None:
    op.create_table(
        'client_webhooks',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('secret_sealed', sa.LargeBinary(), nullable=False),
        sa.Column('secret_key_id', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('pause_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_client_webhooks')),
        sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_client_webhooks_user_id')),
    )
    op.create_table(
        'client_webhook_attempts',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('webhook_id', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.String(length=200), nullable=False),
        sa.Column('event_type', sa.String(length=32), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('attempted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['webhook_id'], ['client_webhooks.id'],
                                name=op.f('fk_client_webhook_attempts_webhook_id_client_webhooks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_client_webhook_attempts')),
    )
    op.create_index('ix_client_webhook_attempts_webhook_id', 'client_webhook_attempts', ['webhook_id', 'id'])
    for name in OUTBOXES:
        op.create_table(
            name,
            sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
            sa.Column('routing_key', sa.String(length=100), nullable=False),
            sa.Column('message_id', sa.String(length=200), nullable=False),
            sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
            sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
        )


def downgrade() -> None:
    for name in reversed(OUTBOXES):
        op.drop_table(name)
    op.drop_index('ix_client_webhook_attempts_webhook_id', table_name='client_webhook_attempts')
    op.drop_table('client_webhook_attempts')
    op.drop_table('client_webhooks')
