"""texts published on chain fill the notes table

A note is now any text behind a hash on chain (up to 8192 bytes, a quality report too), and
records the block of the ``TextPublished`` event that put it on chain, if indexed.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.alter_column('text', existing_type=sa.String(length=2000), type_=sa.Text(), existing_nullable=False)
        batch_op.add_column(sa.Column('published_block', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_column('published_block')
        batch_op.alter_column('text', existing_type=sa.Text(), type_=sa.String(length=2000), existing_nullable=False)
