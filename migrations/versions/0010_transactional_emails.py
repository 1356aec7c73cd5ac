"""transactional_emails: transactional emails and their delivery status (sender-email)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 03:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transactional_emails',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('from', sa.Text(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('cc', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('bcc', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('reply_to', sa.Text(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=True),
    sa.Column('classification', sa.String(length=16), nullable=True),
    sa.Column('disable_tracking', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('attachments_metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_sub_type', sa.String(length=64), nullable=True),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactional_emails'))
    )
    op.create_index('ix_transactional_emails_user_id_created_at', 'transactional_emails', ['user_id', 'created_at'])
    op.create_index('ix_transactional_emails_provider_message_id', 'transactional_emails', ['provider_message_id'])


def downgrade() -> None:
    op.drop_index('ix_transactional_emails_provider_message_id', table_name='transactional_emails')
    op.drop_index('ix_transactional_emails_user_id_created_at', table_name='transactional_emails')
    op.drop_table('transactional_emails')
