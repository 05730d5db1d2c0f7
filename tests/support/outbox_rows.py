"""Outbox rows written straight into the tables, in any status at any time: for the figures of
the dashboard, which count what the planner and the dispatcher leave behind."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage, Patient, TreatmentSession

_PHONES = itertools.count(5550100)


class OutboxRows:
    """One patient and session of their own; `add` writes rows to it, each a step of its own."""

    def __init__(self, engine: Engine, *, now: datetime, plan_error: str | None = None) -> None:
        self.engine = engine
        self.steps = itertools.count(1)
        with session_scope(engine) as session:
            patient = Patient(name="Dashboard Patient", phone=f"+1310{next(_PHONES):07d}")
            session.add(patient)
            session.flush()
            treatment = TreatmentSession(
                patient_id=patient.id or 0,
                treatment="asclera",
                completed_at=now,
                planned_at=None if plan_error else now,
                plan_error=plan_error,
            )
            session.add(treatment)
            session.flush()
            self.patient_id, self.session_id = patient.id or 0, treatment.id or 0

    def add(
        self,
        status: str,
        due_at: datetime,
        *,
        channel: str = "sms",
        count: int = 1,
        **fields: Any,
    ) -> None:
        """`count` rows; `fields` sets others (sent_at, updated_at, lease_expires_at, ...)."""
        self.add_many((status, due_at, channel, fields) for _ in range(count))

    def add_many(self, rows: Iterable[tuple[str, datetime, str, dict[str, Any]]]) -> None:
        """Many rows in one INSERT: fast enough for the 100,000 of the benchmark."""
        values = [
            self._row(status, due_at, channel, fields) for status, due_at, channel, fields in rows
        ]
        if values:
            with session_scope(self.engine) as session:
                session.execute(sa.insert(OutboxMessage), values)

    def _row(self, status: str, due_at: datetime, channel: str, fields: dict[str, Any]) -> dict:
        row: dict[str, Any] = {
            "session_id": self.session_id,
            "patient_id": self.patient_id,
            "plan": "sclerotherapy",
            "step": f"step-{next(self.steps)}",
            "channel": channel,
            "status": status,
            "due_at": due_at,
            "attempts": 0,
            "delivery_retries": 0,
            "created_at": due_at,
            "updated_at": due_at,
        }
        # Every row has every column, so one executemany takes them all.
        row.update(dict.fromkeys(OPTIONAL))
        row.update(fields)
        return row


OPTIONAL = ("sent_at", "delivered_at", "lease_owner", "lease_expires_at", "error_code")
