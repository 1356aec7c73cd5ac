"""credentials: provider secrets sealed at rest

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 03:33:39.566851
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credentials',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("channel IN ('SMS', 'TELEGRAM')", name=op.f('ck_credentials_channel')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
    sa.UniqueConstraint('user_id', 'channel', 'label', name='uq_credentials_user_id_channel_label')
    )
    op.create_index(op.f('ix_credentials_key_id'), 'credentials', ['key_id'], unique=False)
    op.create_index(op.f('ix_credentials_user_id'), 'credentials', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_credentials_user_id'), table_name='credentials')
    op.drop_index(op.f('ix_credentials_key_id'), table_name='credentials')
    op.drop_table('credentials')
