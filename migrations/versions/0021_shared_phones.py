"""shared phones: a number on file for several patients (a parent and a child)

The patient's phone was unique; it is now only indexed (enrollment and an inbound text look
patients up by it). SQLite's constraint was made without a name: the batch names it to drop it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("patient_phone_key", "patient", type_="unique")
        op.create_index("ix_patient_phone", "patient", ["phone"], unique=False)
        return
    with op.batch_alter_table("patient", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("uq_patient_phone", type_="unique")
        batch_op.create_index("ix_patient_phone", ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_phone")
        batch_op.create_unique_constraint("patient_phone_key", ["phone"])
