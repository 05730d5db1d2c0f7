"""`aftercare templates`: list the templates in use and preview exactly what patients get."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli.common import fail, runtime
from reminders.rules.automatic_answers import ANSWERS_GROUP
from reminders.rules.channel_kinds import ChannelKind

if TYPE_CHECKING:
    from reminders.rules.care_plans import CarePlans
    from reminders.rules.rendering import TemplateKey

templates_app = typer.Typer(help="List and preview message templates.", no_args_is_help=True)


@templates_app.command(name="list")
def list_templates() -> None:
    """Every template of every care plan, its care page's, and the automatic answers: which
    version is in use, default or edited."""
    from rich.console import Console
    from rich.table import Table

    from reminders.store.db import Session
    from reminders.store.templates import TemplateMissing, find_template

    rt = runtime()
    table = Table()
    for header in ("plan", "step", "channel", "language", "version", "source"):
        table.add_column(header)
    with Session(rt.engine) as session:
        for key in _all_keys(rt.care_plans()):
            try:
                found = find_template(session, rt.settings.templates_dir, key)
            except TemplateMissing:
                table.add_row(*_cells(key), "-", "MISSING")
                continue
            origin = "file" if found.version is None else f"database v{found.version}"
            if found.key.language != key.language:
                origin += f" ({found.key.language} fallback)"
            table.add_row(*_cells(key), str(found.version or "-"), origin)
    # Off a terminal (pipes, CI logs) rich would wrap at 80 columns; COLUMNS still wins.
    Console(highlight=False, width=shutil.get_terminal_size((160, 24)).columns).print(table)


@templates_app.command()
def preview(
    step: Annotated[
        str,
        typer.Argument(
            metavar="STEP",
            help="STEP or PLAN/STEP, e.g. aftercare or laser/aftercare; answers/help, "
            "answers/urgent or answers/opt_out for an automatic answer.",
        ),
    ],
    channel: Annotated[str, typer.Option(help="sms or email.")] = ChannelKind.SMS,
    language: Annotated[str, typer.Option(help="en or es.")] = "en",
) -> None:
    """Render a template with sample data, as a patient would receive it."""
    from reminders.rules.rendering import SAMPLE_CONTEXT, TemplateKey, TemplateProblem
    from reminders.sending.composer import ClinicInfo, add_email_footer, render
    from reminders.store.db import Session
    from reminders.store.templates import TemplateMissing, find_template

    rt = runtime()
    plans = rt.care_plans()
    if step.startswith(f"{ANSWERS_GROUP}/"):
        _preview_answer(step.split("/", 1)[1], language)
        return
    try:
        plan = _plan_of(plans, step)
    except LookupError as exc:
        fail(str(exc))
    step_name = step.split("/")[-1]
    context = dict(SAMPLE_CONTEXT) | {
        "clinic_name": rt.settings.clinic_name,
        "clinic_phone": rt.settings.clinic_phone,
        # the plan's own treatment, so a laser preview does not speak of sclerotherapy
        "treatment_name": next(iter(plans.plans[plan].treatments.values())),
    }
    if channel == ChannelKind.SMS and not rt.settings.sms_may_name_treatment:
        context.pop("treatment_name", None)
    key = TemplateKey(plan, plans.plans[plan].step(step_name).template_step, channel, language)
    with Session(rt.engine) as session:
        try:
            found = find_template(session, rt.settings.templates_dir, key)
            body, subject, html, segments = render(channel, found.source, context, language)
        except (TemplateMissing, TemplateProblem) as exc:
            fail(str(exc))
    if channel == ChannelKind.EMAIL:
        clinic = ClinicInfo.from_settings(rt.settings)
        body, html = add_email_footer(body, html, clinic, language, "patient@example.com")
    _show(body, subject, html, segments, channel)


def _preview_answer(kind_name: str, language: str) -> None:
    """An automatic answer as a text would get it now (the built-in words if it cannot be used)."""
    from reminders.receiving.answers import Clinic, answer_text
    from reminders.rules.automatic_answers import answer_kind
    from reminders.rules.sms_segments import sms_shape
    from reminders.store.db import Session

    kind = answer_kind(kind_name)
    if kind is None:
        fail(f"no automatic answer {kind_name!r}; answers: help, urgent, opt_out")
    rt = runtime()
    with Session(rt.engine) as session:
        body = answer_text(session, kind, Clinic.from_settings(rt.settings), language)
    _show(body, None, None, sms_shape(body).segments, ChannelKind.SMS)


def _show(
    body: str, subject: str | None, html: str | None, segments: int | None, channel: str
) -> None:
    from reminders.rules.sms_segments import sms_shape

    if channel == ChannelKind.SMS:
        shape = sms_shape(body)
        typer.echo(body)
        typer.echo(f"\n-- {shape.encoding}, {shape.units} units, {segments} segment(s)")
        return
    typer.echo(f"Subject: {subject}\n\n{body}\n\n-- HTML part --\n{html}")


def _plan_of(plans: CarePlans, step: str) -> str:
    """PLAN/STEP, or a STEP name that only one plan has."""
    if "/" in step:
        plan, name = step.split("/", 1)
        if plan not in plans.plans:
            raise LookupError(f"no care plan {plan!r}")
        plans.plans[plan].step(name)
        return plan
    owners = [p.name for p in plans.plans.values() if any(s.name == step for s in p.steps)]
    if not owners:
        known = ", ".join(f"{p.name}/{s.name}" for p in plans.plans.values() for s in p.steps)
        raise LookupError(f"no step {step!r}; steps: {known}")
    if len(owners) > 1:
        choices = ", ".join(f"{owner}/{step}" for owner in owners)
        raise LookupError(f"step {step!r} is in several plans: use one of {choices}")
    return owners[0]


def _all_keys(plans: CarePlans) -> list[TemplateKey]:
    """Each plan's messages, then its care page (the page behind every text's link); last,
    the automatic answers."""
    from reminders.rules.automatic_answers import AnswerKind
    from reminders.rules.care_page import PAGE_CHANNEL, PAGE_STEP
    from reminders.rules.rendering import TemplateKey

    answers = [
        TemplateKey(ANSWERS_GROUP, kind, ChannelKind.SMS, language)
        for kind in AnswerKind
        for language in ("en", "es")
    ]
    return [
        key
        for plan in plans.plans.values()
        for key in (
            *(
                TemplateKey(plan.name, step.template_step, channel, language)
                for step in plan.steps
                for channel in step.channels
                for language in ("en", "es")
            ),
            *(TemplateKey(plan.name, PAGE_STEP, PAGE_CHANNEL, lang) for lang in ("en", "es")),
        )
    ] + answers


def _cells(key: TemplateKey) -> tuple[str, str, str, str]:
    return key.plan, key.step, key.channel, key.language
