"""spent nonces only, and open downloads anchored in batches

Sign-in nonces and login links are now signed by the node and carry their expiry, so only spent
ones are stored, until they expire: rows of nonces handed out but never spent go, and an index on
the expiry keeps the bounded cleanup cheap. Open downloads are logged in their own table and
anchored many to one item, instead of one anchored item each.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

nonces = sa.table('sign_in_nonces', sa.column('used_at', sa.DateTime(timezone=True)))


def upgrade() -> None:
    op.execute(sa.delete(nonces).where(nonces.c.used_at.is_(None)))
    op.create_index('ix_sign_in_nonces_expires_at', 'sign_in_nonces', ['expires_at'])
    op.create_table('open_downloads',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dataset_id', sa.String(length=66), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('receipt', sa.String(length=66), nullable=False),
    sa.Column('downloader', sa.String(length=42), nullable=True),
    sa.Column('anchor_item_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['anchor_item_id'], ['anchor_items.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt')
    )
    op.create_index('ix_open_downloads_dataset_id', 'open_downloads', ['dataset_id'])
    op.create_index('ix_open_downloads_anchor_item_id', 'open_downloads', ['anchor_item_id'])


def downgrade() -> None:
    op.drop_index('ix_open_downloads_anchor_item_id', table_name='open_downloads')
    op.drop_index('ix_open_downloads_dataset_id', table_name='open_downloads')
    op.drop_table('open_downloads')
    op.drop_index('ix_sign_in_nonces_expires_at', table_name='sign_in_nonces')
