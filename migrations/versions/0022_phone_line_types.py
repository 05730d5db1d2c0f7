"""phone line types: Twilio Lookup's answers kept per number (TWILIO_LOOKUP)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db


revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('phone_line_type',
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('line_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('checked_at', reminders.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('phone')
    )


def downgrade() -> None:
    op.drop_table('phone_line_type')
