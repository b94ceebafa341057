"""a version's plaintext may be purged; its root and evidence stay

``dataset_versions`` says when this node removed a version's plaintext and the hash of the
reason; ``catalog_versions`` says in which block its owner recorded the purge on chain.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('purge_reason', sa.String(length=66), nullable=True))
    with op.batch_alter_table('catalog_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_block', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('purge_reason', sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('catalog_versions', schema=None) as batch_op:
        batch_op.drop_column('purge_reason')
        batch_op.drop_column('purged_block')
    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.drop_column('purge_reason')
        batch_op.drop_column('purged_at')
