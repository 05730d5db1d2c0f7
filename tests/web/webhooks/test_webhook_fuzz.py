"""Property: whatever a signed webhook carries, the answer is never a 5xx and nothing is lost.

Hypothesis draws forms of any Unicode (NUL, surrogates aside, emoji, other scripts' digits) and
signs them as Twilio would; the app must answer 200 or a 4xx, and every 200 to an inbound
reply must have stored it (and every STOP must have opted the number out), the first time its
MessageSid comes: a repeat acts no more.
"""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlmodel import select

from reminders.rules.keywords import Kind, classify
from reminders.store.db import session_scope
from reminders.store.models import InboundMessage, OptOut, Reply
from reminders.web.webhooks import SID
from tests.support.webhooks import signed

ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
SID_LIKE = st.one_of(ANY_TEXT, st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True))
PHONE_LIKE = st.one_of(ANY_TEXT, st.from_regex(r"\+1310555[0-9]{4}", fullmatch=True))
FORM_KEYS = ("MessageSid", "From", "Body", "MessageStatus", "ErrorCode", "SmsStatus")
FUZZ = examples(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    sid=SID_LIKE,
    sender=PHONE_LIKE,
    body=st.one_of(ANY_TEXT, st.sampled_from(["STOP", "START", "HELP", "stop 🛑"])),
    extra=st.dictionaries(st.sampled_from(FORM_KEYS), ANY_TEXT, max_size=3),
)
@example(sid="\x00", sender="", body="", extra={})  # once broke the test's own lookup on PostgreSQL
def test_signed_inbound_is_never_a_server_error(client, runtime, sid, sender, body, extra):
    form = {"MessageSid": sid, "From": sender, "Body": body, **extra}
    seen = False  # a MessageSid acts once: a repeat is a no-op; a malformed one is never kept
    if SID.fullmatch(form["MessageSid"]):  # PostgreSQL cannot even compare a NUL in text
        with session_scope(runtime.engine) as session:
            seen = session.get(InboundMessage, form["MessageSid"]) is not None
    response = signed(client, "/webhooks/twilio/inbound", form)
    assert response.status_code < 500, response.text
    kind = classify(form["Body"]).kind
    if response.status_code == 200 and kind != Kind.HELP and not seen:
        with session_scope(runtime.engine) as session:
            kept = session.exec(select(Reply).where(Reply.provider_id == form["MessageSid"]))
            stored = kept.first() is not None
            opted = session.exec(select(OptOut)).first() is not None
        # a reply is kept, a STOP leaves an opt-out, a START has nothing to lift or lifts it
        assert stored if kind == Kind.REPLY else (opted or kind == Kind.START)


@FUZZ
@given(
    message_id=st.one_of(ANY_TEXT, st.integers(min_value=-(2**70), max_value=2**70).map(str)),
    form=st.dictionaries(st.sampled_from(FORM_KEYS), ANY_TEXT, max_size=5),
)
def test_signed_status_callback_is_never_a_server_error(client, message_id, form):
    path = f"/webhooks/twilio/status?message_id={quote(message_id)}"
    assert signed(client, path, form).status_code < 500
