"""pages: about a number no patient has (no patient, no session), and each contact tried

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reminders.store.db


revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A page about an urgent text from a number no patient has belongs to no patient.
    with op.batch_alter_table("outbox_message") as batch:
        batch.alter_column("session_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("patient_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("urgent_page") as batch:
        batch.add_column(
            sa.Column("gave_up_at", reminders.store.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "page_attempt",
        sa.Column("reply_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("on_call", sa.Boolean(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("paged_at", reminders.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_message.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["reply.id"],
        ),
        sa.PrimaryKeyConstraint("reply_id", "seq"),
    )
    # The pages already sent are their replies' first attempts.
    op.execute(
        "INSERT INTO page_attempt (reply_id, seq, contact_name, on_call, channel, message_id,"
        " paged_at) SELECT reply_id, 1, contact_name, TRUE, channel, message_id, paged_at"
        " FROM urgent_page WHERE paged_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("page_attempt")
    with op.batch_alter_table("urgent_page") as batch:
        batch.drop_column("gave_up_at")
    strangers = "SELECT id FROM outbox_message WHERE patient_id IS NULL"
    op.execute(f"UPDATE urgent_page SET message_id = NULL WHERE message_id IN ({strangers})")
    op.execute(f"DELETE FROM message_event WHERE message_id IN ({strangers})")
    op.execute("DELETE FROM outbox_message WHERE patient_id IS NULL")
    with op.batch_alter_table("outbox_message") as batch:
        batch.alter_column("patient_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("session_id", existing_type=sa.Integer(), nullable=False)
