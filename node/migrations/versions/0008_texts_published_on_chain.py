"""texts published on chain fill the notes table

A note is now any text behind a hash on chain (up to 8192 bytes, a quality report too), and
records the block of the ``TextPublished`` event that put it on chain, if indexed, and its SHA-256
(the notes kept before were hashed with SHA-256: their hash is it).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.alter_column('text', existing_type=sa.String(length=2000), type_=sa.Text(), existing_nullable=False)
        batch_op.add_column(sa.Column('published_block', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('sha256', sa.String(length=66), nullable=True))
        batch_op.create_index('ix_notes_sha256', ['sha256'])
    notes = sa.table('notes', sa.column('hash', sa.String(length=66)), sa.column('sha256', sa.String(length=66)))
    op.execute(sa.update(notes).values(sha256=notes.c.hash))


def downgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('ix_notes_sha256')
        batch_op.drop_column('sha256')
        batch_op.drop_column('published_block')
        batch_op.alter_column('text', existing_type=sa.Text(), type_=sa.String(length=2000), existing_nullable=False)
