"""telegram_subscribers (who shared which phone number with which bot) and telegram_deliveries (the outcome of each
message handed to the Bot API) (sender-telegram)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 06:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('telegram_subscribers',
    sa.Column('bot_id', sa.BigInteger(), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('bot_id', 'phone_number', name=op.f('pk_telegram_subscribers')),
    sa.UniqueConstraint('bot_id', 'telegram_user_id', name='uq_telegram_subscribers_bot_id_telegram_user_id')
    )
    op.create_table('telegram_deliveries',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_telegram_deliveries'))
    )


def downgrade() -> None:
    op.drop_table('telegram_deliveries')
    op.drop_table('telegram_subscribers')
