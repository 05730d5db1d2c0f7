"""Which care plans are in force: the newest revision of each in the database, else the file.

`aftercare init` loads the file's plans as default revisions; an admin's edit is a newer
revision and is never overwritten by a later init. A revision plans the sessions planned after
it is saved; messages already planned keep their times. Callers read the plans once per batch
(`current_plans`) and hand them to the planner, which never reads them per session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.care_plans import (
    CarePlanError,
    CarePlans,
    Plan,
    combine,
    plan_definition,
    plan_from_json,
    plan_to_json,
    with_labels_from,
)
from reminders.store.audit import record
from reminders.store.models import CarePlanRevision


class UnknownRevision(LookupError):
    """No such plan, or no such version of it."""


@dataclass(frozen=True)
class DefaultsLoaded:
    added: int  # revisions written from the file
    kept: tuple[
        str, ...
    ]  # plans whose newest revision is an admin's edit that the file differs from


def newest_revisions(session: Session) -> list[CarePlanRevision]:
    """The newest revision of every plan in the database, in one query."""
    newest = (
        sa.select(col(CarePlanRevision.plan), sa.func.max(CarePlanRevision.version).label("v"))
        .group_by(col(CarePlanRevision.plan))
        .subquery()
    )
    query = select(CarePlanRevision).join(
        newest,
        sa.and_(
            col(CarePlanRevision.plan) == newest.c.plan,
            col(CarePlanRevision.version) == newest.c.v,
        ),
    )
    return list(session.exec(query.order_by(col(CarePlanRevision.plan))))


def current_plans(session: Session, defaults: CarePlans) -> CarePlans:
    """The plans in force: each plan's newest revision, and the file's plans none was loaded for,
    in the file's order (then any the file no longer has).

    Raises CarePlanError when a stored revision no longer reads, or two plans claim a treatment.
    """
    stored = {rev.plan: _plan(rev) for rev in newest_revisions(session)}
    in_file = [
        with_labels_from(stored.pop(name), plan) if name in stored else plan
        for name, plan in defaults.plans.items()
    ]
    return combine([*in_file, *stored.values()])


def plans_in_words(session: Session, defaults: CarePlans) -> CarePlans:
    """The plans in force to word steps and treatments for staff: the file's when a stored
    revision no longer reads (a page still shows; the care-plan pages say what is wrong)."""
    try:
        return current_plans(session, defaults)
    except CarePlanError:
        return defaults


def plan_history(session: Session, plan: str) -> list[CarePlanRevision]:
    """Every revision of the plan, newest first."""
    query = select(CarePlanRevision).where(CarePlanRevision.plan == plan)
    return list(session.exec(query.order_by(col(CarePlanRevision.version).desc())))


def save_plan(
    session: Session,
    plan: Plan,
    *,
    actor: str,
    now: datetime,
    changed: Sequence[str] = (),
    action: str = "care_plan_save",
) -> CarePlanRevision:
    """An admin's edit as the plan's next version, audited `action` with the steps changed
    (`care_plan_save`; `care_plan_add_step` or `care_plan_remove_step` for a step gained or lost).

    Two admins saving at once both aim at the same version: the unique key refuses the second,
    whose transaction is then run again (the web's unit of work) and gets the next one.
    """
    revision = _add(session, plan, actor=actor, now=now)
    detail = f"plan={plan.name}, version={revision.version}"
    if changed:
        detail += f", steps={','.join(changed)}"
    _audit(session, action, revision, actor, now, detail)
    return revision


def restore_plan(
    session: Session, plan: str, version: int, *, actor: str, now: datetime
) -> CarePlanRevision:
    """A new version with the definition of an earlier one, audited `care_plan_restore`."""
    old = session.exec(
        select(CarePlanRevision).where(
            CarePlanRevision.plan == plan, CarePlanRevision.version == version
        )
    ).first()
    if old is None:
        raise UnknownRevision(f"care plan {plan} has no version {version}")
    revision = _add(session, _plan(old), actor=actor, now=now, restored_from=old.version)
    detail = f"plan={plan}, version={revision.version}, from={old.version}"
    _audit(session, "care_plan_restore", revision, actor, now, detail)
    return revision


def load_default_plans(
    session: Session, defaults: CarePlans, *, actor: str, now: datetime
) -> DefaultsLoaded:
    """Add the file's plans as revisions where they are new or the file changed since.

    A plan whose newest revision an admin wrote is left alone, even when the file differs.
    Raises CarePlanError (the caller rolls back) when the result would not read as a whole.
    """
    newest = {rev.plan: rev for rev in newest_revisions(session)}
    added, kept = 0, []
    for plan in defaults.plans.values():
        current = newest.get(plan.name)
        if current is not None and _same(_plan(current), plan):
            continue
        if current is not None and not current.is_default:
            kept.append(plan.name)
            continue
        _add(session, plan, actor=actor, now=now, is_default=True)
        added += 1
    session.flush()
    current_plans(session, defaults)
    return DefaultsLoaded(added, tuple(kept))


def _add(
    session: Session,
    plan: Plan,
    *,
    actor: str,
    now: datetime,
    is_default: bool = False,
    restored_from: int | None = None,
) -> CarePlanRevision:
    newest = session.exec(
        select(sa.func.max(CarePlanRevision.version)).where(CarePlanRevision.plan == plan.name)
    ).one()
    revision = CarePlanRevision(
        plan=plan.name,
        version=(newest or 0) + 1,
        definition=plan_to_json(plan),
        is_default=is_default,
        restored_from=restored_from,
        created_by=actor,
        created_at=now,
    )
    session.add(revision)
    session.flush()
    return revision


def _plan(revision: CarePlanRevision) -> Plan:
    return _parsed(revision.plan, revision.definition, revision.version)


@lru_cache(maxsize=256)
def _parsed(name: str, definition: str, version: int) -> Plan:
    """A revision is never changed once written: each is read and checked once per process
    (every care page and enrollment reads the plans in force; the parse was most of it)."""
    return plan_from_json(name, definition, version)


def _same(stored: Plan, in_file: Plan) -> bool:
    """The same plan, wording aside: labels missing from a revision stored before they
    existed are read from the file (`current_plans`), never worth a new version."""
    return plan_definition(with_labels_from(stored, in_file)) == plan_definition(in_file)


def _audit(
    session: Session,
    action: str,
    revision: CarePlanRevision,
    actor: str,
    now: datetime,
    detail: str,
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        entity="care_plan_revision",
        entity_id=revision.id,
        now=now,
        detail=detail,
    )
