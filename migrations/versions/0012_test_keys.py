"""api_keys.test, campaigns.test, jobs.simulated: test keys, the campaigns they create and the sends they make
(auth, campaign)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 05:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('test', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('campaigns', sa.Column('test', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('jobs', sa.Column('simulated', sa.Boolean(), server_default='false', nullable=False))


def downgrade() -> None:
    op.drop_column('jobs', 'simulated')
    op.drop_column('campaigns', 'test')
    op.drop_column('api_keys', 'test')
