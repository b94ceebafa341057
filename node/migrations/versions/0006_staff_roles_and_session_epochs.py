"""staff roles and session epochs

A staff account's role was stored but never read; it now bounds what the account may do, so
it must be one of the roles the node knows (an unknown one becomes ``viewer``, the least). A
session epoch, raised when the password changes or the account is disabled, ends the sessions
issued before.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ROLES = ('admin', 'reviewer', 'steward', 'viewer')

staff = sa.table('staff_accounts', sa.column('role', sa.String))


def upgrade() -> None:
    op.execute(staff.update().where(staff.c.role.not_in(ROLES)).values(role='viewer'))
    with op.batch_alter_table('staff_accounts') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))
        batch.create_check_constraint('ck_staff_accounts_role', f"role IN {ROLES!r}")


def downgrade() -> None:
    with op.batch_alter_table('staff_accounts') as batch:
        batch.drop_constraint('ck_staff_accounts_role', type_='check')
        batch.drop_column('session_epoch')
