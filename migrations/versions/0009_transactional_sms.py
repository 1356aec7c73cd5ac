"""transactional_sms: transactional SMS and their delivery status (sender-sms)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 05:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transactional_sms',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('credential_id', sa.BigInteger(), nullable=True),
    sa.Column('credentials_label', sa.String(length=100), nullable=False),
    sa.Column('recipient', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('errored_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactional_sms'))
    )
    op.create_index('ix_transactional_sms_user_id_created_at', 'transactional_sms', ['user_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_transactional_sms_user_id_created_at', table_name='transactional_sms')
    op.drop_table('transactional_sms')
