"""refused queries: each query the owner's node refused, recorded on chain as an attempt

``QueryRefused`` (``UsageLog.recordRefusedQueries``) is a row of ``refused_queries``: grant,
consumer, the hash of the SQL and the reason's code; undone by a reorg like the queries.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('refused_queries',
    sa.Column('grant_id', sa.String(length=66), nullable=False),
    sa.Column('consumer', sa.String(length=42), nullable=False),
    sa.Column('query_hash', sa.String(length=66), nullable=False),
    sa.Column('reason', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=True),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('block_number', 'log_index')
    )
    with op.batch_alter_table('refused_queries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refused_queries_grant_id'), ['grant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('refused_queries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refused_queries_grant_id'))
    op.drop_table('refused_queries')
