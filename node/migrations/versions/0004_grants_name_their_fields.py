"""grants name their fields

A grant's scope was a bitmask read against whatever version was asked for; it is now the
field names approved on chain (with the schema hash they were approved against).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grants') as batch:
        batch.drop_column('field_scope')
        batch.add_column(sa.Column('fields', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('schema_hash', sa.String(length=66), nullable=True))
        batch.add_column(sa.Column('fields_hash', sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('grants') as batch:
        batch.drop_column('fields_hash')
        batch.drop_column('schema_hash')
        batch.drop_column('fields')
        batch.add_column(sa.Column('field_scope', sa.String(length=80), nullable=False, server_default='0'))
