"""one_time_passwords: several live passwords per address (a new request no longer replaces one);
one_time_password_failures: wrong tries counted per (address, client IP) (auth, issue 13)

The passwords live for minutes, so the table is recreated rather than converted: a password sent just before the
upgrade stops working, and its owner asks for a new one.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 01:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('one_time_passwords')
    op.create_table(
        'one_time_passwords',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('requested_ip', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_passwords')),
    )
    op.create_index(op.f('ix_one_time_passwords_email'), 'one_time_passwords', ['email'])
    op.create_table(
        'one_time_password_failures',
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('wrong_tries', sa.Integer(), nullable=False),
        sa.Column('window_ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('email', 'ip', name=op.f('pk_one_time_password_failures')),
    )


def downgrade() -> None:
    op.drop_table('one_time_password_failures')
    op.drop_index(op.f('ix_one_time_passwords_email'), table_name='one_time_passwords')
    op.drop_table('one_time_passwords')
    op.create_table(
        'one_time_passwords',
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('attempts_left', sa.Integer(), nullable=False),
        sa.Column('requested_ip', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('email', name=op.f('pk_one_time_passwords')),
    )
