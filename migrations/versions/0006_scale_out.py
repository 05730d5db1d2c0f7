"""scale-out: worker start/stop times, a shared rate bucket, inbound MessageSids, indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    with op.batch_alter_table("worker_heartbeat") as batch:
        batch.add_column(
            sa.Column("started_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("stopped_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "rate_bucket",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "inbound_message",
        sa.Column("message_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("received_at", reminders.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.PrimaryKeyConstraint("message_sid"),
    )
    op.create_table(
        "keyword_state",
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("message_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("received_at", reminders.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    with op.batch_alter_table("outbox_message") as batch:
        batch.create_index("ix_outbox_recipient", ["recipient"], unique=False)
        batch.create_index(
            "ix_outbox_claimable",
            ["due_at", "id"],
            unique=False,
            postgresql_where=LIVE,
            sqlite_where=LIVE,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_index("ix_outbox_claimable")
        batch.drop_index("ix_outbox_recipient")
    op.drop_table("keyword_state")
    op.drop_table("inbound_message")
    op.drop_table("rate_bucket")
    with op.batch_alter_table("worker_heartbeat") as batch:
        batch.drop_column("stopped_at")
        batch.drop_column("started_at")
