"""sms_deliveries: the outcome of each SMS handed to Twilio (sender-sms)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:58:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sms_deliveries',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_sms_deliveries'))
    )


def downgrade() -> None:
    op.drop_table('sms_deliveries')
