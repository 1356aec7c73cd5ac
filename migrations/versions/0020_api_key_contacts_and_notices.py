"""API key reminders (issue 16): api_keys.notification_contacts (up to 5 addresses emailed with the owner), and
api_key_notices, one row per email a key's owner and contacts get (a reminder N days before it expires, its
revocation): unique per key and kind, so each goes once however many auth replicas run, and sent_at says it went

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 12:45:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('notification_contacts', postgresql.ARRAY(sa.String(length=320)),
                                        server_default='{}', nullable=False))
    op.create_table(
        'api_key_notices',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('api_key_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('emailed', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_api_key_notices_api_key_id_api_keys'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key_notices')),
        sa.UniqueConstraint('api_key_id', 'kind', name=op.f('uq_api_key_notices_api_key_id')),
    )
    op.create_index('ix_api_key_notices_pending', 'api_key_notices', ['id'],
                    postgresql_where=sa.text('sent_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_api_key_notices_pending', table_name='api_key_notices')
    op.drop_table('api_key_notices')
    op.drop_column('api_keys', 'notification_contacts')
