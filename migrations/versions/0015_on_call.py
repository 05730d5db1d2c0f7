"""on call: the contacts paged about urgent replies, and one page per reply

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('on_call_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('hours', sa.Text(), nullable=False),
    sa.Column('created_at', reminders.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', reminders.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('urgent_page',
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('due_at', reminders.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paged_at', reminders.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['reply.id'], ),
    sa.PrimaryKeyConstraint('reply_id')
    )


def downgrade() -> None:
    op.drop_table('urgent_page')
    op.drop_table('on_call_contact')
