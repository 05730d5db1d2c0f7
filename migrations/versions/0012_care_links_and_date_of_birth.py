"""care links (a salt per session, its token's hash, wrong answers, a texted code) and the
date of birth

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
    op.create_table(
        "care_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("salt", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", reminders.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "first_opened_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_opened_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "code_expires_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("code_sent_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", reminders.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["treatment_session.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
        sa.UniqueConstraint("token_hash"),
    )


def downgrade() -> None:
    op.drop_table("care_link")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("date_of_birth")
