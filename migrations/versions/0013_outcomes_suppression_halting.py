"""After hand-off: receipts of every kind in stats, the suppression list and unsubscribes (campaign), halting
(campaign, stats), recipients in the senders' delivery logs, blocked Telegram subscribers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COUNTERS = ('invalid_recipients', 'unsubscribed', 'delivered', 'opened', 'hard_bounced', 'soft_bounced',
            'complained', 'blacklisted', 'halt_base_outcomes', 'halt_base_hard_bounced', 'halt_base_complained')
DELIVERY_LOGS = ('email_deliveries', 'sms_deliveries', 'telegram_deliveries')


def upgrade() -> None:
    # stats
    op.add_column('message_outcomes', sa.Column('error_sub_type', sa.String(length=64), nullable=True))
    for name in COUNTERS:
        op.add_column('campaign_counters', sa.Column(name, sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('campaign_counters', sa.Column('halted_at', sa.DateTime(timezone=True), nullable=True))
    # Before this revision a DELIVERED receipt left the status SENT: the status is now the message's current one.
    op.execute("UPDATE message_outcomes SET status = 'DELIVERED' WHERE status = 'SENT' AND receipt = 'DELIVERED'")
    op.execute("UPDATE campaign_counters c SET delivered = d.n FROM (SELECT campaign_id, count(*) AS n "
               "FROM message_outcomes WHERE status = 'DELIVERED' GROUP BY campaign_id) d "
               "WHERE d.campaign_id = c.campaign_id")

    # campaign
    op.add_column('campaigns', sa.Column('halt_reason', sa.Text(), nullable=True))
    op.add_column('campaigns', sa.Column('halted_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'suppressions',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('user_id', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.Text(), server_default='', nullable=False),
        sa.Column('source_campaign_id', sa.BigInteger(), nullable=True),
        sa.Column('source_message_id', sa.String(length=255), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("channel IN ('EMAIL', 'SMS', 'TELEGRAM')", name=op.f('ck_suppressions_channel')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
        sa.UniqueConstraint('channel', 'recipient', 'user_id', name='uq_suppressions_channel_recipient_user_id'),
    )
    op.create_index('ix_suppressions_user_id_created_at', 'suppressions', ['user_id', 'created_at'])
    op.create_index('ix_suppressions_source_campaign_id', 'suppressions', ['source_campaign_id'])
    op.create_table(
        'unsubscribes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('reason', sa.Text(), server_default='', nullable=False),
        sa.Column('via', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_unsubscribes_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unsubscribes')),
        sa.UniqueConstraint('campaign_id', 'recipient', name='uq_unsubscribes_campaign_id_recipient'),
    )
    op.create_index('ix_unsubscribes_user_id_created_at', 'unsubscribes', ['user_id', 'created_at'])
    op.create_table(
        'unsubscribe_digests',
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('week_start', sa.Date(), nullable=False),
        sa.Column('unsubscribes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('user_id', 'week_start', name=op.f('pk_unsubscribe_digests')),
    )

    # senders
    for table in DELIVERY_LOGS:
        op.add_column(table, sa.Column('recipient_id', sa.BigInteger(), nullable=True))
        op.create_index(f'ix_{table}_recipient_id', table, ['recipient_id'],
                        postgresql_where=sa.text('recipient_id IS NOT NULL'))
    op.create_index('ix_email_deliveries_provider_message_id', 'email_deliveries', ['provider_message_id'])
    op.add_column('telegram_subscribers', sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('telegram_subscribers', 'blocked_at')
    op.drop_index('ix_email_deliveries_provider_message_id', table_name='email_deliveries')
    for table in DELIVERY_LOGS:
        op.drop_index(f'ix_{table}_recipient_id', table_name=table)
        op.drop_column(table, 'recipient_id')
    op.drop_table('unsubscribe_digests')
    op.drop_index('ix_unsubscribes_user_id_created_at', table_name='unsubscribes')
    op.drop_table('unsubscribes')
    op.drop_index('ix_suppressions_source_campaign_id', table_name='suppressions')
    op.drop_index('ix_suppressions_user_id_created_at', table_name='suppressions')
    op.drop_table('suppressions')
    op.drop_column('campaigns', 'halted_at')
    op.drop_column('campaigns', 'halt_reason')
    op.execute("UPDATE message_outcomes SET status = 'SENT' WHERE status IN ('DELIVERED', 'OPENED')")
    op.drop_column('campaign_counters', 'halted_at')
    for name in reversed(COUNTERS):
        op.drop_column('campaign_counters', name)
    op.drop_column('message_outcomes', 'error_sub_type')
