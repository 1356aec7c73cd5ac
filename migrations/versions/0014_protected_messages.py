"""Password-protected email: protected messages, wrong-password attempts, multipart uploads

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 23:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('uploads', sa.Column('multipart_id', sa.String(length=1024), nullable=True))
    op.add_column('uploads', sa.Column('part_count', sa.Integer(), nullable=True))
    op.create_table(
        'protected_messages',
        sa.Column('id', postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('version', sa.SmallInteger(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=True),
        sa.Column('check_value', sa.String(length=64), nullable=True),
        sa.Column('salt', sa.String(length=64), nullable=True),
        sa.Column('iterations', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_protected_messages_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_protected_messages')),
    )
    op.create_index(op.f('ix_protected_messages_campaign_id'), 'protected_messages', ['campaign_id'])
    op.create_index(op.f('ix_protected_messages_expires_at'), 'protected_messages', ['expires_at'])
    op.create_table(
        'protected_message_attempts',
        sa.Column('message_id', postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('message_id', name=op.f('pk_protected_message_attempts')),
    )
    op.create_index(op.f('ix_protected_message_attempts_window_started_at'), 'protected_message_attempts',
                    ['window_started_at'])


def downgrade() -> None:
    op.drop_table('protected_message_attempts')
    op.drop_table('protected_messages')
    op.drop_column('uploads', 'part_count')
    op.drop_column('uploads', 'multipart_id')
