"""Retention and redaction (issue 16): campaigns.redacted_at (when the purge removed a finished campaign's recipients
and per-message outcomes; the page says when), and indexes on the creation time of transactional messages, which
the purge deletes after TRANSACTIONAL_RETENTION_DAYS, oldest first (and of the delivery log of email sent
outside campaigns)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('redacted_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_transactional_emails_created_at', 'transactional_emails', ['created_at'])
    op.create_index('ix_transactional_sms_created_at', 'transactional_sms', ['created_at'])
    # The delivery log of transactional and priority emails (no campaign): purged with the transactional emails.
    op.create_index('ix_email_deliveries_created_at_no_campaign', 'email_deliveries', ['created_at'],
                    postgresql_where=sa.text('campaign_id IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_email_deliveries_created_at_no_campaign', table_name='email_deliveries')
    op.drop_index('ix_transactional_sms_created_at', table_name='transactional_sms')
    op.drop_index('ix_transactional_emails_created_at', table_name='transactional_emails')
    op.drop_column('campaigns', 'redacted_at')
