"""A template that fails for a real patient at send time: the message is held, not failed.

The save check renders a template for varied sample patients, but a template can still fail
for one real patient (`{% if first_name != 'Maria' %}{{ 1/0 }}{% endif %}`, or a source
written into the store directly). Failing the message would lose it for a fault that is the
clinic's, not the patient's: it is held (`store.holds`), the admin is alerted (the dashboard,
`aftercare status`), and it goes once the template is saved again, if still before its
deadline. A direct message (fixed words) or a step its care plan no longer has has no
template an admin could fix: those fail as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from reminders.rules.care_plans import CarePlans
from reminders.rules.direct import is_direct
from reminders.rules.rendering import TemplateKey
from reminders.sending.dispatch_results import DispatchResult, Outcome, outcome
from reminders.sending.outcomes import fail
from reminders.store.holds import hold_for_template

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage, Patient
    from reminders.store.templates import TemplateSource

log = logging.getLogger(__name__)


def template_failed(
    session: Session,
    message: OutboxMessage,
    patient: Patient,
    plans: CarePlans,
    sources: Mapping[TemplateKey, TemplateSource],
    exc: Exception,
    now: datetime,
    *,
    actor: str,
) -> Outcome:
    """Hold `message` for the template that failed to compose it (fail it when no template
    edit could help). The outcome and the log name the template and the error's class only."""
    key = _key(message, patient, plans)
    if key is not None and key in sources:  # the one rendered: English, when a translation lacks
        key = sources[key].key
    if key is None:
        fail(session, message, now, code="template", reason=str(exc), actor=actor)
        return outcome(message, DispatchResult.FAILED, f"template: {exc}", now)
    error_class = type(exc.__cause__ or exc).__name__
    hold_for_template(session, message, key, error_class, now, actor=actor)
    where = f"{key.plan}/{key.step} {key.channel} {key.language}"
    log.warning("message %s held: template %s fails (%s)", message.id, where, error_class)
    return outcome(message, DispatchResult.HELD, f"template {where} fails ({error_class})", now)


def _key(message: OutboxMessage, patient: Patient, plans: CarePlans) -> TemplateKey | None:
    """The template the composer rendered, as `composer.compose` names it."""
    if is_direct(message.plan):
        return None
    try:
        step = plans.plans[message.plan].step(message.step).template_step
    except KeyError:  # the care plan lost the step: a care-plan edit, not a template's
        return None
    return TemplateKey(message.plan, step, message.channel, patient.language)
