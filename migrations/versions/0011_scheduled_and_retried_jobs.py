"""jobs.scheduled_at (scheduled sending) and jobs.retry_of (retries) (campaign); sms_deliveries by Twilio's SID
(sender-sms: receipts of retried messages)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('jobs', sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('jobs', sa.Column('retry_of', sa.BigInteger(), nullable=True))
    # The scheduler's query: due READY jobs, oldest first; only scheduled jobs are in the index.
    op.create_index('ix_jobs_scheduled_at_ready', 'jobs', ['scheduled_at'],
                    postgresql_where=sa.text("status = 'READY'"))
    op.create_index('ix_sms_deliveries_provider_message_id', 'sms_deliveries', ['provider_message_id'])


def downgrade() -> None:
    op.drop_index('ix_sms_deliveries_provider_message_id', table_name='sms_deliveries')
    op.drop_index('ix_jobs_scheduled_at_ready', table_name='jobs')
    op.drop_column('jobs', 'retry_of')
    op.drop_column('jobs', 'scheduled_at')
