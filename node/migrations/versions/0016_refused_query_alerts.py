"""refused query alerts: the monitor's rule for queries refused before they ran

A node starts watching ``QueryRefused`` (``node.audit.monitor``): one alert per grant, consumer
and reason, high when someone asked for rows or an identifying field.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

RULES = sa.table('alert_rules', sa.column('kind', sa.String), sa.column('threshold', sa.Double),
                 sa.column('window_seconds', sa.BigInteger), sa.column('enabled', sa.Boolean))


def upgrade() -> None:
    op.bulk_insert(RULES, [{"kind": "refused_query", "threshold": 0, "window_seconds": 0, "enabled": True}])


def downgrade() -> None:
    op.execute(RULES.delete().where(RULES.c.kind == "refused_query"))
