"""refusals filed under their caller

A use refused because its caller may not use the grant (CallerNotAllowed) was indexed under the
grant's grantee, blaming it for another's attempt; it is now the caller's (``node.chain.attribution``).
Rows indexed before are filed again by the same rule; refused uses keep their grant's dataset in
``uses`` as they do in ``chain_events``. Alerts already raised stay as they were raised.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CALLER_NOT_ALLOWED = 2

events = sa.table('chain_events', sa.column('id', sa.Integer), sa.column('name', sa.String),
                  sa.column('args', sa.JSON), sa.column('dataset_id', sa.String), sa.column('consumer', sa.String),
                  sa.column('block_number', sa.BigInteger), sa.column('log_index', sa.Integer))
uses = sa.table('uses', sa.column('dataset_id', sa.String), sa.column('block_number', sa.BigInteger),
                sa.column('log_index', sa.Integer))


def upgrade() -> None:
    bind = op.get_bind()
    refusals = bind.execute(sa.select(events.c.id, events.c.args, events.c.dataset_id, events.c.block_number,
                                      events.c.log_index).where(events.c.name == 'UseRefused')).all()
    for id_, args, dataset_id, block_number, log_index in refusals:
        if int(args['reason']) == CALLER_NOT_ALLOWED:
            bind.execute(sa.update(events).where(events.c.id == id_).values(consumer=args['actor']))
        if dataset_id is not None:
            bind.execute(sa.update(uses).where(uses.c.block_number == block_number, uses.c.log_index == log_index)
                         .values(dataset_id=dataset_id))


def downgrade() -> None:
    """The old filing cannot be told from the new one without the grants: leave the rows."""
