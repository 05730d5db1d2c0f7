"""combined messages: a step whose text went inside another step's SMS points at that message

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("combined_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outbox_message_combined_into_id_outbox_message",
            "outbox_message",
            ["combined_into_id"],
            ["id"],
        )
        batch.create_index("ix_outbox_message_combined_into_id", ["combined_into_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_index("ix_outbox_message_combined_into_id")
        batch.drop_constraint("fk_outbox_message_combined_into_id_outbox_message")
        batch.drop_column("combined_into_id")
