"""sns_messages_seen: ids of the SNS messages whose SES events sender-email applied, so that a replayed copy is
dropped (issue 13); rows older than a couple of hours are deleted by sender-email

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 02:05:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sns_messages_seen',
        sa.Column('message_id', sa.String(length=100), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('message_id', name=op.f('pk_sns_messages_seen')),
    )
    op.create_index('ix_sns_messages_seen_seen_at', 'sns_messages_seen', ['seen_at'])


def downgrade() -> None:
    op.drop_index('ix_sns_messages_seen_seen_at', table_name='sns_messages_seen')
    op.drop_table('sns_messages_seen')
