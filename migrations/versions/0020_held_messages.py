"""held messages: a message whose template fails for its patient, or restored from a backup,
waits here for someone to act (store/holds.py)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('message_hold',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('plan', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.Column('error_class', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
    sa.Column('held_at', reminders.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('held_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], ),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('message_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_hold_cause'), ['cause'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('message_hold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_hold_cause'))

    op.drop_table('message_hold')
