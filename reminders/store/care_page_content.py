"""The care plans and care page templates a care page shows, kept in the process per
version of the stored content.

A care page is read far more often than plans and templates change, and each of them costs
a round trip (and a file read where a template has no stored revision). Revisions are only
ever added, so the highest id of each revision table names the content in force: the link's
look-up reads both in the same statement (`care_links.find`), and this cache answers from
memory until either moves. A revision saved by another process moves it too, so no page
shows stale words once the saving transaction has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from reminders.rules.care_plans import CarePlans
from reminders.rules.rendering import TemplateKey
from reminders.store.care_plans import current_plans
from reminders.store.models import CarePlanRevision, TemplateRevision
from reminders.store.templates import TemplateMissing, TemplateSource, find_template

ContentVersion = tuple[int | None, int | None]  # newest care plan and template revision ids


def content_version() -> tuple[sa.ScalarSelect[int], sa.ScalarSelect[int]]:
    """Two scalar subqueries to read with a look-up: no round trip of their own."""
    plans = sa.select(sa.func.max(CarePlanRevision.id)).scalar_subquery()
    templates = sa.select(sa.func.max(TemplateRevision.id)).scalar_subquery()
    return plans, templates


class _Cache:
    """What was read for one content version; a new version starts it afresh. Two threads
    may both read a missing value: the same value, kept once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: Hashable = None
        self._values: dict[Hashable, Any] = {}

    def get(self, version: Hashable, key: Hashable, load: Callable[[], Any]) -> Any:
        with self._lock:
            if self._version != version:
                self._version, self._values = version, {}
            if key in self._values:
                return self._values[key]
        value = load()
        with self._lock:
            if self._version == version:
                self._values[key] = value
        return value


_plans = _Cache()
_templates = _Cache()


def plans_in_force(session: Session, defaults: CarePlans, version: ContentVersion) -> CarePlans:
    """`current_plans`, read once per content version (a plan that no longer reads raises
    each time, as `current_plans` does, and is not kept)."""
    plans: CarePlans = _plans.get(version, id(defaults), lambda: current_plans(session, defaults))
    return plans


def page_template(
    session: Session, templates_dir: Path, key: TemplateKey, version: ContentVersion
) -> TemplateSource | None:
    """`find_template` for a care page, read once per content version; None when missing."""

    def load() -> TemplateSource | None:
        try:
            return find_template(session, templates_dir, key)
        except TemplateMissing:
            return None

    found: TemplateSource | None = _templates.get(version, (templates_dir, key), load)
    return found
