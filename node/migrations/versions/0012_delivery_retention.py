"""delivered copies leave the disk after their retention; their receipts stay

A delivery row is the copy's receipt: it now says which fingerprint key marked the copy, when its
first complete download ended (from which the copy's grace runs) and when the copy was removed.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint_key_id', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('downloaded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_deliveries_removed_at', ['removed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_removed_at')
        batch_op.drop_column('removed_at')
        batch_op.drop_column('downloaded_at')
        batch_op.drop_column('fingerprint_key_id')
