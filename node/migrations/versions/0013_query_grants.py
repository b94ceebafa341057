"""query grants: a grant's privacy terms, and the queries recorded against its ε budget

Grants asked for with ``requestQueryAccess`` carry an ε budget, a per-query cap (micro-ε), k and
the clamping bounds (``QueryTermsRequested``); each query recorded on chain (``QueryRecorded``) is
a row of ``queries``, one per use of its grant.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epsilon_budget', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('epsilon_cap', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('min_group_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('bounds', sa.Text(), nullable=True))
    op.create_table('queries',
    sa.Column('grant_id', sa.String(length=66), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('query_hash', sa.String(length=66), nullable=False),
    sa.Column('result_hash', sa.String(length=66), nullable=False),
    sa.Column('epsilon', sa.BigInteger(), nullable=False),
    sa.Column('epsilon_spent', sa.BigInteger(), nullable=False),
    sa.Column('rows_scanned', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=True),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('grant_id', 'sequence')
    )


def downgrade() -> None:
    op.drop_table('queries')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        for column in ('bounds', 'min_group_size', 'epsilon_cap', 'epsilon_budget'):
            batch_op.drop_column(column)
