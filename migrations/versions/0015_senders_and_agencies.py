"""Who the email is from: verified sender addresses, agencies and their domains, the template's show_logo

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 23:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'agencies',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('logo_uri', sa.String(length=2048), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
        sa.UniqueConstraint('name', name=op.f('uq_agencies_name')),
    )
    op.create_table(
        'agency_domains',
        sa.Column('domain', sa.String(length=255), nullable=False),
        sa.Column('agency_id', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_domains_agency_id_agencies'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('domain', name=op.f('pk_agency_domains')),
    )
    op.create_index(op.f('ix_agency_domains_agency_id'), 'agency_domains', ['agency_id'])
    op.create_table(
        'sender_addresses',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sender_addresses_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_addresses')),
        sa.UniqueConstraint('user_id', 'email', name=op.f('uq_sender_addresses_user_id')),
    )
    op.create_index(op.f('ix_sender_addresses_user_id'), 'sender_addresses', ['user_id'])
    op.add_column('email_templates', sa.Column('show_logo', sa.Boolean(), server_default='true', nullable=False))


def downgrade() -> None:
    op.drop_column('email_templates', 'show_logo')
    op.drop_table('sender_addresses')
    op.drop_table('agency_domains')
    op.drop_table('agencies')
