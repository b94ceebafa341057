"""review delivery quality monitor trace

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    rules = op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('window_seconds', sa.BigInteger(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind')
    )
    # The rules every node starts with; tuned per node in SQL.
    op.bulk_insert(rules, [
        {"kind": "expired_attempt", "threshold": 0, "window_seconds": 0, "enabled": True},
        {"kind": "quota", "threshold": 0.8, "window_seconds": 0, "enabled": True},
        {"kind": "burst", "threshold": 60, "window_seconds": 60, "enabled": True},
        {"kind": "refused", "threshold": 0, "window_seconds": 0, "enabled": True},
        {"kind": "stale", "threshold": 1.0, "window_seconds": 0, "enabled": True},
    ])
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('dataset_id', sa.String(length=66), nullable=True),
    sa.Column('grant_id', sa.String(length=66), nullable=True),
    sa.Column('consumer', sa.String(length=42), nullable=True),
    sa.Column('event_id', sa.BigInteger(), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_kind'), ['kind'], unique=False)

    op.create_table('lineage',
    sa.Column('child_id', sa.String(length=66), nullable=False),
    sa.Column('parent_id', sa.String(length=66), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('child_id', 'parent_id')
    )
    with op.batch_alter_table('lineage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lineage_parent_id'), ['parent_id'], unique=False)

    op.create_table('notes',
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hash')
    )
    op.create_table('statements',
    sa.Column('statement_id', sa.String(length=66), nullable=False),
    sa.Column('owner_department', sa.String(length=64), nullable=False),
    sa.Column('consumer', sa.String(length=42), nullable=False),
    sa.Column('period_start', sa.BigInteger(), nullable=False),
    sa.Column('period_end', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.String(length=40), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('statement_hash', sa.String(length=66), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('statement_id')
    )
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statements_consumer'), ['consumer'], unique=False)

    op.create_table('watermarks',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('deliveries',
    sa.Column('delivery_id', sa.String(length=66), nullable=False),
    sa.Column('grant_id', sa.String(length=66), nullable=False),
    sa.Column('dataset_id', sa.String(length=66), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('consumer', sa.String(length=42), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('fingerprint_bits', sa.BigInteger(), nullable=False),
    sa.Column('plain_sha256', sa.String(length=66), nullable=False),
    sa.Column('evidence_hash', sa.String(length=66), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('outbox_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'], ),
    sa.PrimaryKeyConstraint('delivery_id')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_consumer'), ['consumer'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_evidence_hash'), ['evidence_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_grant_id'), ['grant_id'], unique=False)

    op.create_table('quality_reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('report_hash', sa.String(length=66), nullable=False),
    sa.Column('issue_id', sa.String(length=66), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quality_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_reports_issue_id'), ['issue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_reports_report_hash'), ['report_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_reports_version_id'), ['version_id'], unique=False)

    with op.batch_alter_table('chain_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('block_time', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('consumer', sa.String(length=42), nullable=True))
        batch_op.create_index('ix_chain_events_consumer_trace', ['consumer', 'id'], unique=False)
        batch_op.create_index('ix_chain_events_dataset_trace', ['dataset_id', 'id'], unique=False)

    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_classes', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('key_fields', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('quality_rules', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('frozen', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('uses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('block_time', sa.BigInteger(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('uses', schema=None) as batch_op:
        batch_op.drop_column('block_time')

    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('frozen')
        batch_op.drop_column('quality_rules')
        batch_op.drop_column('key_fields')
        batch_op.drop_column('field_classes')

    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.drop_column('number')

    with op.batch_alter_table('chain_events', schema=None) as batch_op:
        batch_op.drop_index('ix_chain_events_dataset_trace')
        batch_op.drop_index('ix_chain_events_consumer_trace')
        batch_op.drop_column('consumer')
        batch_op.drop_column('block_time')

    with op.batch_alter_table('quality_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_reports_version_id'))
        batch_op.drop_index(batch_op.f('ix_quality_reports_report_hash'))
        batch_op.drop_index(batch_op.f('ix_quality_reports_issue_id'))

    op.drop_table('quality_reports')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_grant_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_evidence_hash'))
        batch_op.drop_index(batch_op.f('ix_deliveries_dataset_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_consumer'))

    op.drop_table('deliveries')
    op.drop_table('watermarks')
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statements_consumer'))

    op.drop_table('statements')
    op.drop_table('notes')
    with op.batch_alter_table('lineage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lineage_parent_id'))

    op.drop_table('lineage')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_kind'))
        batch_op.drop_index(batch_op.f('ix_alerts_grant_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_dataset_id'))

    op.drop_table('alerts')
    op.drop_table('alert_rules')
