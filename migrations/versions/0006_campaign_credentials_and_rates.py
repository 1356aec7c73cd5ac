"""campaigns.credential_id, credentials.description, jobs.send_rate, sms_templates.segments/encoding,
telegram_templates (campaign)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:20:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('credential_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f('fk_campaigns_credential_id_credentials'), 'campaigns', 'credentials',
                          ['credential_id'], ['id'], ondelete='SET NULL')
    op.add_column('credentials', sa.Column('description', sa.String(length=255), server_default='', nullable=False))
    op.add_column('jobs', sa.Column('send_rate', sa.Integer(), nullable=True))
    op.add_column('sms_templates', sa.Column('segments', sa.Integer(), server_default='0', nullable=False))
    op.add_column('sms_templates', sa.Column('encoding', sa.String(length=8), server_default='', nullable=False))
    op.create_table('telegram_templates',
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('params', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_telegram_templates_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_telegram_templates'))
    )


def downgrade() -> None:
    op.drop_table('telegram_templates')
    op.drop_column('sms_templates', 'encoding')
    op.drop_column('sms_templates', 'segments')
    op.drop_column('jobs', 'send_rate')
    op.drop_column('credentials', 'description')
    op.drop_constraint(op.f('fk_campaigns_credential_id_credentials'), 'campaigns', type_='foreignkey')
    op.drop_column('campaigns', 'credential_id')
