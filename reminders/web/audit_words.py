"""An audit row as a sentence an office manager reads: "Ana Ruiz voided Maria López's session
of 2 Nov", each thing it names a link to its page.

Pure: the row, what it names (`store.audit_subjects.Subjects`), the plans in force (for the
words of steps and treatments) and the clinic's zone in; the parts of a sentence out. An action
this module has no words for still reads: who, the action in words, and its detail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.automatic_answers import ANSWER_WORDS, answer_kind, is_answer
from reminders.rules.care_plans import CarePlans, name_in_words
from reminders.rules.channel_kinds import ChannelKind
from reminders.store.audit_subjects import Named, Subjects
from reminders.store.models import AuditEvent

CHANNEL_WORDS: dict[str, str] = {ChannelKind.SMS: "texts", ChannelKind.EMAIL: "emails"}
MESSAGE_WORDS: dict[str, str] = {ChannelKind.SMS: "text", ChannelKind.EMAIL: "email"}
LANGUAGE_WORDS = {"en": "English", "es": "Spanish"}
SYSTEM_ACTORS = {
    "planner": "Aftercare",
    "defaults": "Setting up Aftercare",
    "twilio": "A text from the patient",
    "email_link": "The unsubscribe link",
    "cli": "Someone at the command line",
}
OPT_OUT_SOURCES = {"sms_reply": "replied STOP", "email_link": "used the unsubscribe link",
                   "provider": "reported by the provider"}  # fmt: skip


@dataclass(frozen=True)
class Part:
    """A piece of a sentence; a link when `href` is set."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Context:
    subjects: Subjects
    plans: CarePlans
    tz: ZoneInfo


def sentence(row: AuditEvent, context: Context) -> list[Part]:
    """The row in words: who, then what they did to what."""
    words = ACTIONS.get(row.action)
    rest = words(row, context) if words else _unknown(row)
    return [actor_part(row.actor, context.subjects), *rest]


def actor_part(actor: str, subjects: Subjects) -> Part:
    person = subjects.people.get(actor.lower())
    if person is not None:
        return Part(person)
    if actor.startswith("api:"):
        return Part(f"The practice system “{actor[4:]}”", "/admin/api-keys")
    return Part(SYSTEM_ACTORS.get(actor, actor))


def _detail(row: AuditEvent) -> dict[str, str]:
    """`key=value` pairs of a row's detail (the older rows' format)."""
    pairs = (item.split("=", 1) for item in (row.detail or "").replace(",", " ").split())
    return {key: value for key, value in (p for p in pairs if len(p) == 2)}


def _patient(named: Named | None, possessive: bool = False, anchor: str = "") -> Part:
    if named is None:
        return Part("a patient's" if possessive else "a patient")
    name = named.name + ("'s" if possessive else "")
    return Part(name, f"/patients/{named.patient_id}{anchor}")


def _day(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.day} {local:%b %Y}"


def _session(row: AuditEvent, c: Context, verb: str) -> list[Part]:
    found = c.subjects.sessions.get(row.entity_id or 0)
    if found is None:
        return [Part(f" {verb} session {row.entity_id}")]
    treatment = c.plans.treatment_words(found.treatment)
    anchor = f"#session-{row.entity_id}"
    return [
        Part(f" {verb} "),
        _patient(found, possessive=True, anchor=anchor),
        Part(f" {treatment} session of {_day(found.completed_at, c.tz)}"),
    ]


def _enroll(row: AuditEvent, c: Context) -> list[Part]:
    return _session(row, c, "enrolled")


def _void(row: AuditEvent, c: Context) -> list[Part]:
    reason = (row.detail or "").strip()
    why = "" if reason in ("", "voided by staff") else f" ({reason})"
    return [*_session(row, c, "voided"), Part(why)]


def _restore(row: AuditEvent, c: Context) -> list[Part]:
    return [*_session(row, c, "restored"), Part(f" ({row.detail})" if row.detail else "")]


def _paused(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, c: Context) -> list[Part]:
        pending = _detail(row).get("pending", "")
        waiting = f" ({pending} waiting)" if pending and pending != "0" else ""
        return [Part(f" {verb} "), _patient(c.subjects.patients.get(row.entity_id or 0)),
                Part(waiting)]  # fmt: skip

    return words


def _patient_added(row: AuditEvent, c: Context) -> list[Part]:
    return [Part(" added "), _patient(c.subjects.patients.get(row.entity_id or 0)),
            Part(" as a patient")]  # fmt: skip


def _patient_changed(row: AuditEvent, c: Context) -> list[Part]:
    changed = (row.detail or "").removeprefix("changed:").strip().replace("_", " ")
    return [Part(" changed "), _patient(c.subjects.patients.get(row.entity_id or 0), True),
            Part(f" {changed or 'details'}")]  # fmt: skip


EDITED_FIELDS = {"name": "the name", "phone": "the phone number", "email": "the email address",
                 "date_of_birth": "the date of birth", "language": "the language",
                 "timezone": "the time zone"}  # fmt: skip


def _patient_edited(row: AuditEvent, c: Context) -> list[Part]:
    """One field per row, named, never its values (they are patient data)."""
    what = EDITED_FIELDS.get(row.detail or "", "the details")
    return [Part(f" changed {what} of "), _patient(c.subjects.patients.get(row.entity_id or 0))]


def _normalize(row: AuditEvent, c: Context) -> list[Part]:
    changed = (row.detail or "").removeprefix("normalized:").strip()
    return [Part(" put "), _patient(c.subjects.patients.get(row.entity_id or 0), True),
            Part(f" {changed or 'details'} in the standard form")]  # fmt: skip


def _opt(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, c: Context) -> list[Part]:
        detail = _detail(row)
        channel = CHANNEL_WORDS.get(detail.get("channel", ""), "messages")
        source = OPT_OUT_SOURCES.get(detail.get("source", ""), "")
        named = c.subjects.opt_outs.get(row.entity_id or 0)
        return [Part(" recorded that "), _patient(named), Part(f" {verb} {channel}"),
                Part(f" ({source})" if source else "")]  # fmt: skip

    return words


def _message(verb: str, after: str) -> Callable[[AuditEvent, Context], list[Part]]:
    """'asked for the “Day 1” text to Maria Lopez to be sent again', and the like."""

    def words(row: AuditEvent, c: Context) -> list[Part]:
        found = c.subjects.messages.get(row.entity_id or 0)
        if found is None:
            return [Part(f" {verb} message {row.entity_id}{after}")]
        step = c.plans.step_words(found.plan, found.step)
        kind = MESSAGE_WORDS.get(found.channel, "message")
        to = _patient(found, anchor=f"#message-{row.entity_id}")
        return [Part(f" {verb} the “{step}” {kind} to "), to, Part(after)]

    return words


def _reply(row: AuditEvent, c: Context) -> list[Part]:
    return [Part(" marked a reply from "), _patient(c.subjects.replies.get(row.entity_id or 0)),
            Part(" as handled")]  # fmt: skip


def _user(row: AuditEvent, c: Context) -> Part:
    found = c.subjects.users.get(row.entity_id or 0)
    return Part(found[0] if found else f"user {row.entity_id}", "/admin/users")


def _user_added(row: AuditEvent, c: Context) -> list[Part]:
    role = _detail(row).get("role", "")
    return [Part(" added "), _user(row, c), Part(f" as {role}" if role else "")]


def _role(row: AuditEvent, c: Context) -> list[Part]:
    before, _, after = (row.detail or "").partition(" -> ")
    change = f" from {before} to {after}" if after else ""
    return [Part(" changed the role of "), _user(row, c), Part(change)]


def _simple_user(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, c: Context) -> list[Part]:
        return [Part(f" {verb} "), _user(row, c)]

    return words


def _login(_row: AuditEvent, _c: Context) -> list[Part]:
    return [Part(" logged in")]


def _login_failed(row: AuditEvent, _c: Context) -> list[Part]:
    return [Part(f" could not log in: {row.detail or 'refused'}")]


def _template(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, c: Context) -> list[Part]:
        found = c.subjects.templates.get(row.entity_id or 0)
        if found is None:
            return [Part(f" {verb} a message template ({row.detail or row.entity_id})")]
        step = c.plans.step_words(found.plan, found.step)
        kind = MESSAGE_WORDS.get(found.channel, "message")
        plan = c.plans.plan_words(found.plan)
        if is_answer(found.plan):  # no care plan's: "the English SMS “HELP answer” (...)"
            answer = answer_kind(found.step)
            step = ANSWER_WORDS[answer] if answer is not None else step
            plan = "automatic answer"
        language = LANGUAGE_WORDS.get(found.language, found.language)
        href = f"/admin/templates/{found.plan}/{found.step}/{found.channel}/{found.language}"
        restored = _detail(row).get("restored_from")
        earlier = f" version {restored} of" if restored else ""
        return [Part(f" {verb}{earlier} "),
                Part(f"the {language} {kind} “{step}” ({plan})", href),
                Part(f", now version {found.version}")]  # fmt: skip

    return words


def _care_plan(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, c: Context) -> list[Part]:
        found = c.subjects.care_plans.get(row.entity_id or 0)
        if found is None:
            return [Part(f" {verb} a care plan ({row.detail or row.entity_id})")]
        title = c.plans.plan_words(found.plan)
        plan = Part(f"{title} care plan", f"/admin/care-plans/{found.plan}")
        return [Part(f" {verb} the "), plan, Part(f", now version {found.version}")]

    return words


def _api_key(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, c: Context) -> list[Part]:
        label = c.subjects.api_keys.get(row.entity_id or 0, f"number {row.entity_id}")
        return [Part(f" {verb} the API key "), Part(f"“{label}”", "/admin/api-keys")]

    return words


def _saved_reply(verb: str) -> Callable[[AuditEvent, Context], list[Part]]:
    def words(row: AuditEvent, _c: Context) -> list[Part]:
        language = LANGUAGE_WORDS.get(_detail(row).get("language", ""), "")
        return [Part(f" {verb} a saved reply" + (f" ({language})" if language else ""))]

    return words


def _unknown(row: AuditEvent) -> list[Part]:
    what = f" {name_in_words(row.action).lower()}: {name_in_words(row.entity).lower()}"
    number = f" {row.entity_id}" if row.entity_id is not None else ""
    detail = f" ({row.detail})" if row.detail else ""
    return [Part(what + number + detail)]


ACTIONS: dict[str, Callable[[AuditEvent, Context], list[Part]]] = {
    "enroll": _enroll,
    "void": _void,
    "restore_session": _restore,
    "patient_paused": _paused("paused all messages to"),
    "patient_resumed": _paused("resumed messages to"),
    "patient_normalize": _normalize,
    "patient_create": _patient_added,
    "patient_update": _patient_changed,
    "patient_edit": _patient_edited,
    "opt_out": _opt("opted out of"),
    "opt_in": _opt("opted back in to"),
    "message_resend": _message("asked for", " to be sent again"),
    "message_release": _message("released", ", which was held"),
    "message_skip": _message("chose not to send", ", which was held"),
    "reply_handled": _reply,
    "user_added": _user_added,
    "user_disabled": _simple_user("disabled the account of"),
    "user_enabled": _simple_user("enabled the account of"),
    "login_unlocked": _simple_user("cleared the login lock of"),
    "password_reset_issued": _simple_user("made a one-time password reset link for"),
    "password_reset_used": lambda _row, _c: [Part(" set a new password through a reset link")],
    "password_changed": lambda _row, _c: [Part(" changed their password")],
    "display_name_set": _simple_user("set the name shown for"),
    "role_changed": _role,
    "login": _login,
    "login_failed": _login_failed,
    "template_save": _template("saved"),
    "template_restore": _template("restored"),
    "care_plan_save": _care_plan("changed"),
    "care_plan_restore": _care_plan("restored an earlier version of"),
    "care_plan_add_step": _care_plan("added a step to"),
    "care_plan_remove_step": _care_plan("removed a step from"),
    "template_test_send": lambda _row, _c: [Part(" sent themselves a test of a message template")],
    "user_phone": lambda _row, _c: [Part(" changed their own phone number")],
    "api_key_create": _api_key("created"),
    "api_key_revoke": _api_key("revoked"),
    "saved_reply_added": _saved_reply("added"),
    "saved_reply_edited": _saved_reply("changed"),
    "saved_reply_retired": _saved_reply("retired"),
}
# The filter's choice of actions, in words.
ACTION_CHOICES = {
    "enroll": "Enrolled a session",
    "void": "Voided a session",
    "restore_session": "Restored a voided session",
    "patient_paused": "Paused a patient",
    "patient_resumed": "Resumed a patient",
    "opt_out": "Recorded an opt-out",
    "opt_in": "Recorded an opt-in",
    "message_resend": "Sent a message again",
    "message_release": "Released a held message",
    "message_skip": "Skipped a held message",
    "reply_handled": "Handled a reply",
    "user_added": "Added a user",
    "user_disabled": "Disabled a user",
    "user_enabled": "Enabled a user",
    "login_unlocked": "Cleared a login lock",
    "password_reset_issued": "Made a password reset link",
    "password_reset_used": "Used a password reset link",
    "password_changed": "Changed their password",
    "display_name_set": "Set a display name",
    "role_changed": "Changed a role",
    "login": "Logged in",
    "login_failed": "Failed to log in",
    "template_save": "Saved a template",
    "template_restore": "Restored a template",
    "care_plan_save": "Changed a care plan",
    "care_plan_restore": "Restored a care plan",
    "care_plan_add_step": "Added a care plan step",
    "care_plan_remove_step": "Removed a care plan step",
    "template_test_send": "Sent a test message",
    "user_phone": "Changed their phone number",
    "api_key_create": "Created an API key",
    "api_key_revoke": "Revoked an API key",
    "saved_reply_added": "Added a saved reply",
    "saved_reply_edited": "Changed a saved reply",
    "saved_reply_retired": "Retired a saved reply",
    "patient_normalize": "Tidied a patient's details",
    "patient_create": "Added a patient",
    "patient_update": "Changed a patient's details",
    "patient_edit": "Edited a patient's details",
}
