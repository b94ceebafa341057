"""the index keeps only the SQL indexes its readers use

Every event the indexer takes is an insert into each index of ``chain_events`` and ``uses``: at
100,000 events that was a third of a catch-up. Nothing reads ``chain_events`` by transaction
hash or ``uses`` by actor or evidence hash, and ``chain_events(block_number)`` and
``chain_events(dataset_id)`` are prefixes of ``(block_number, log_index)`` and ``(dataset_id, id)``.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

DROPPED = {
    'chain_events': (('ix_chain_events_block_number', ['block_number']), ('ix_chain_events_dataset_id', ['dataset_id']),
                     ('ix_chain_events_tx_hash', ['tx_hash'])),
    'uses': (('ix_uses_actor', ['actor']), ('ix_uses_evidence_hash', ['evidence_hash'])),
}


def upgrade() -> None:
    for table, indexes in DROPPED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in indexes:
                batch_op.drop_index(name)


def downgrade() -> None:
    for table, indexes in DROPPED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes:
                batch_op.create_index(name, columns, unique=False)
