"""conversations: likely opt-outs in replies, threads assigned to staff, saved replies

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conversation',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('assigned_to', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('assigned_at', reminders.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('patient_id')
    )
    op.create_table('saved_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', reminders.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('retired_at', reminders.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('saved_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_reply_language'), ['language'], unique=False)
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stop_wish', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('wish_decision', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('wish_decided_at', reminders.store.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('wish_decided_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_column('wish_decided_by')
        batch_op.drop_column('wish_decided_at')
        batch_op.drop_column('wish_decision')
        batch_op.drop_column('stop_wish')
    op.drop_table('conversation')
    with op.batch_alter_table('saved_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_reply_language'))
    op.drop_table('saved_reply')
