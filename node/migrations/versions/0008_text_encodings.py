"""text encodings: declared on a dataset, recorded with each version

A tabular version records the text encoding its file was read in (utf-8, utf-8-sig, gbk or
gb18030), declared by the owner or detected at registration; a dataset may declare one for its
versions; a delivery records the encoding its copy was written in (the source's or UTF-8).
Versions registered and deliveries made before were UTF-8, so they are recorded as such.

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
    with op.batch_alter_table('datasets') as batch:
        batch.add_column(sa.Column('encoding', sa.String(length=16), nullable=True))
    with op.batch_alter_table('dataset_versions') as batch:
        batch.add_column(sa.Column('encoding', sa.String(length=16), nullable=True))
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('encoding', sa.String(length=16), nullable=True))
    op.execute(sa.table('deliveries', sa.column('encoding', sa.String(16))).update().values(encoding='utf-8'))
    versions = sa.table('dataset_versions', sa.column('encoding', sa.String(16)), sa.column('schema', sa.JSON),
                        sa.column('source_path', sa.String(1024)))
    for suffix in ('.csv', '.jsonl', '.ndjson'):
        op.execute(sa.update(versions).where(sa.func.lower(versions.c.source_path).like(f'%{suffix}'))
                   .values(encoding='utf-8'))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('encoding')
    with op.batch_alter_table('dataset_versions') as batch:
        batch.drop_column('encoding')
    with op.batch_alter_table('datasets') as batch:
        batch.drop_column('encoding')
