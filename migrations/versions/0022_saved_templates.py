"""Saved templates (issue 18): saved_templates, an officer's message saved under a name per channel (unique per user,
channel and name), with the fields of that channel's campaign template, to start new campaigns from

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_templates',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('reply_to', sa.String(length=320), nullable=True),
        sa.Column('from_address', sa.String(length=400), nullable=True),
        sa.Column('show_logo', sa.Boolean(), server_default='true', nullable=False),
        sa.Column('params', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("channel IN ('EMAIL', 'SMS', 'TELEGRAM')", name=op.f('ck_saved_templates_channel')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_templates')),
        sa.UniqueConstraint('user_id', 'channel', 'name', name='uq_saved_templates_user_id_channel_name'),
    )
    op.create_index(op.f('ix_saved_templates_user_id'), 'saved_templates', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_saved_templates_user_id'), table_name='saved_templates')
    op.drop_table('saved_templates')
