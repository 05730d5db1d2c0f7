"""defaults for practice systems that insert patients and sessions directly

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.alter_column("language", server_default="en")
        batch.alter_column("created_at", server_default=sa.func.now())
    with op.batch_alter_table("treatment_session") as batch:
        batch.alter_column("status", server_default="completed")
        batch.alter_column("created_at", server_default=sa.func.now())


def downgrade() -> None:
    with op.batch_alter_table("treatment_session") as batch:
        batch.alter_column("created_at", server_default=None)
        batch.alter_column("status", server_default=None)
    with op.batch_alter_table("patient") as batch:
        batch.alter_column("created_at", server_default=None)
        batch.alter_column("language", server_default=None)
