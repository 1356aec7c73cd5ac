"""campaign_outbox.headers: the correlation ids (request, campaign, job) and trace context of the request that wrote
a message, published with it as AMQP headers (issue 14: logs and traces follow a campaign's send from the gateway
request to the renderer and the senders)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 06:05:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaign_outbox', sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column('campaign_outbox', 'headers')
