"""patient pause: staff hold every message to a patient until they resume

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(
            sa.Column("paused_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("paused_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
    paused = sa.text("paused_at IS NOT NULL")
    op.create_index(
        "ix_patient_paused", "patient", ["id"], postgresql_where=paused, sqlite_where=paused
    )


def downgrade() -> None:
    op.drop_index("ix_patient_paused", table_name="patient")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("paused_by")
        batch.drop_column("paused_at")
