"""one catalog across departments: every dataset and version on the chain, with its catalog text

The indexer fills these on every node from ``DatasetRegistered``, ``MetadataUpdated`` and
``VersionAdded``, whose metadata and schema texts the contract hashed itself. Only the contracts
of this revision emit the texts: a node moving to it joins a new deployment, whose index starts
empty.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_datasets',
    sa.Column('dataset_id', sa.String(length=66), nullable=False),
    sa.Column('owner_department', sa.String(length=66), nullable=False),
    sa.Column('registrant', sa.String(length=42), nullable=False),
    sa.Column('category', sa.String(length=66), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('update_interval', sa.BigInteger(), nullable=False),
    sa.Column('parents', sa.JSON(), nullable=False),
    sa.Column('metadata_text', sa.Text(), nullable=False),
    sa.Column('metadata_hash', sa.String(length=66), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('registered_block', sa.BigInteger(), nullable=False),
    sa.Column('registered_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('dataset_id')
    )
    op.create_index('ix_catalog_datasets_owner_department', 'catalog_datasets', ['owner_department'])
    op.create_index('ix_catalog_datasets_registered_block', 'catalog_datasets', ['registered_block'])
    op.create_table('catalog_versions',
    sa.Column('dataset_id', sa.String(length=66), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content_root', sa.String(length=66), nullable=False),
    sa.Column('schema_text', sa.Text(), nullable=False),
    sa.Column('schema_hash', sa.String(length=66), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('anchored_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('dataset_id', 'number')
    )
    op.create_index('ix_catalog_versions_block_number', 'catalog_versions', ['block_number'])


def downgrade() -> None:
    op.drop_index('ix_catalog_versions_block_number', table_name='catalog_versions')
    op.drop_table('catalog_versions')
    op.drop_index('ix_catalog_datasets_registered_block', table_name='catalog_datasets')
    op.drop_index('ix_catalog_datasets_owner_department', table_name='catalog_datasets')
    op.drop_table('catalog_datasets')
