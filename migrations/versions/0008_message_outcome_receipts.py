"""message_outcomes.receipt, receipt_at: an SMS delivery receipt applied to a message's outcome (stats)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 06:45:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('message_outcomes', sa.Column('receipt', sa.String(length=16), nullable=True))
    op.add_column('message_outcomes', sa.Column('receipt_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('message_outcomes', 'receipt_at')
    op.drop_column('message_outcomes', 'receipt')
