"""`POST /api/v1/sessions` over HTTP: bearer keys, the enrollment's own checks field by field,
Idempotency-Key retries, JSON errors only, and the OpenAPI description of it all."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import select

from reminders.store.api_keys import create_api_key, revoke_api_key
from reminders.store.db import make_engine, session_scope
from reminders.store.models import ApiKey, AuditEvent, OutboxMessage, Patient, TreatmentSession
from reminders.web.app import create_app
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import TestClient

NOW = utc(2026, 11, 3, 12, 0)
URL = "/api/v1/sessions"
MARIA = {
    "name": "Maria Lopez",
    "phone": "+13105550142",
    "email": "maria@example.com",
    "treatment": "asclera",
    "completed_at": "2026-11-02T14:30:00-08:00",
}
WRITTEN = ("patient", "treatment_session", "outbox_message", "audit_event", "idempotency_record")


def new_key(engine: Engine, label: str = "Front desk PMS") -> str:
    with session_scope(engine) as session:
        _key, secret = create_api_key(session, label=label, actor="ana@example.com", now=NOW)
    return secret


@pytest.fixture
def key(engine: Engine) -> str:
    return new_key(engine)


def post(client: TestClient, key: str | None, body: object = MARIA, **headers: str):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.post(URL, json=body, headers=headers)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as db:
        return {t: db.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WRITTEN}


def nothing_written(engine: Engine) -> bool:
    written = counts(engine)
    return written == {**dict.fromkeys(WRITTEN, 0), "audit_event": 1}  # the key's creation


# -- who may call -----------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer"])
def test_without_a_bearer_key_it_is_401_with_a_challenge_and_nothing_written(
    client, engine, key, authorization
):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.post(URL, json=MARIA, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="aftercare"'
    assert response.json()["detail"].startswith("an API key is required")
    assert nothing_written(engine)


def test_an_unknown_or_revoked_key_is_401_invalid_token(client, engine, key):
    assert post(client, key + "x").status_code == 401
    with session_scope(engine) as session:
        row = session.exec(select(ApiKey)).one()
        revoke_api_key(session, row, actor="ana@example.com", now=NOW)
    response = post(client, key)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["detail"] == "this API key is unknown or has been revoked"
    assert counts(engine)["treatment_session"] == 0


def test_a_caller_without_a_key_learns_nothing_of_its_body_or_headers(client, key):
    bad_json = client.post(URL, content=b"{oops", headers={"Content-Type": "application/json"})
    bad_header = post(client, None, **{"Idempotency-Key": " spaces "})
    not_json = client.post(URL, content=b"name=Maria")
    assert bad_json.status_code == bad_header.status_code == not_json.status_code == 401


def test_the_api_needs_no_login_cookie_and_no_csrf_token(client, key):
    response = post(client, key)
    assert response.status_code == 201
    assert "set-cookie" not in response.headers


# -- a good session ---------------------------------------------------------------------------


def test_a_good_session_is_201_with_its_ids_and_the_rows_and_audit_of_an_enrollment(
    client, engine, key
):
    # Laser: entered the next night, its texts meet no other on a day (no note on the limit).
    response = post(client, key, {**MARIA, "treatment": "laser"})
    assert response.status_code == 201, response.text
    answer = response.json()
    with session_scope(engine) as session:
        patient = session.exec(select(Patient)).one()
        treatment = session.exec(select(TreatmentSession)).one()
        rows = session.exec(select(OutboxMessage)).all()
        audit = session.exec(select(AuditEvent).where(AuditEvent.actor != "ana@example.com"))
        audited = [(e.actor, e.action, e.entity, e.entity_id) for e in audit]
        last_used = session.exec(select(ApiKey)).one().last_used_at
    planned = answer.pop("messages")
    assert answer == {
        "patient_id": patient.id,
        "session_id": treatment.id,
        "replaced_session_id": None,
        "planned_messages": len(rows),
        "warnings": [],
    }
    assert [(m["id"], m["step"], m["channel"]) for m in planned] == [
        (row.id, row.step, row.channel) for row in sorted(rows, key=lambda r: (r.due_at, r.id or 0))
    ]
    assert all(m["expected_send_at"] and not m["too_late"] for m in planned)
    assert len(rows) > 5 and {row.status for row in rows} == {"pending"}
    assert (patient.phone, patient.email, patient.sms_consent_by) == (
        "+13105550142",
        "maria@example.com",
        "api:Front desk PMS",
    )
    assert treatment.completed_at == utc(2026, 11, 2, 22, 30)
    assert treatment.enrolled_by == "api:Front desk PMS"
    assert audited == [
        ("api:Front desk PMS", "patient_create", "patient", patient.id),
        ("api:Front desk PMS", "enroll", "treatment_session", treatment.id),
    ]
    assert last_used == NOW


def test_a_local_time_is_read_in_the_timezone_given(client, engine, key):
    body = {**MARIA, "completed_at": "2026-11-02T14:30", "timezone": "America/New_York"}
    assert post(client, key, body).status_code == 201
    with session_scope(engine) as session:
        assert session.exec(select(TreatmentSession)).one().completed_at == utc(2026, 11, 2, 19, 30)


def test_an_existing_patient_is_found_by_phone_not_duplicated(client, engine, key):
    first = post(client, key).json()
    later = {**MARIA, "phone": "(310) 555-0142", "completed_at": "2026-11-03T02:00:00-08:00"}
    second = post(client, key, later)
    assert second.status_code == 201
    assert second.json()["patient_id"] == first["patient_id"]
    assert second.json()["session_id"] != first["session_id"]
    assert counts(engine)["patient"] == 1


def test_a_session_entered_again_replaces_the_first_entry(client, key):
    first = post(client, key).json()
    again = post(client, key, {**MARIA, "completed_at": "2026-11-02T15:00:00-08:00"}).json()
    assert again["replaced_session_id"] == first["session_id"]


def test_another_name_on_a_known_phone_is_refused_unless_patient_id_names_the_patient(
    client, engine, key
):
    maria = post(client, key).json()
    other = {**MARIA, "name": "Ana Ruiz", "completed_at": "2026-11-03T02:00:00-08:00"}
    refused = post(client, key, other)
    assert refused.status_code == 422
    assert list(refused.json()["errors"]) == ["phone"]
    hint = f"if it is the same person, send patient_id {maria['patient_id']}"
    assert hint in refused.json()["errors"]["phone"]
    named = post(client, key, {**other, "patient_id": maria["patient_id"]})
    assert named.status_code == 201
    with session_scope(engine) as session:
        assert [p.name for p in session.exec(select(Patient))] == ["Ana Ruiz"]


def test_someone_sharing_a_known_phone_is_a_patient_of_their_own_with_shared_phone(
    client, engine, key
):
    maria = post(client, key).json()
    child = {**MARIA, "name": "Sofia Lopez", "completed_at": "2026-11-03T02:00:00-08:00"}
    assert "send shared_phone true" in post(client, key, child).json()["errors"]["phone"]
    shared = post(client, key, {**child, "shared_phone": True})
    assert shared.status_code == 201
    assert shared.json()["patient_id"] != maria["patient_id"]
    with session_scope(engine) as session:
        assert {(p.name, p.phone) for p in session.exec(select(Patient))} == {
            ("Maria Lopez", "+13105550142"), ("Sofia Lopez", "+13105550142")}  # fmt: skip


def test_warnings_say_which_messages_will_not_go(client, key):
    body = {k: v for k, v in MARIA.items() if k != "email"}
    answer = post(client, key, body).json()
    assert "no email address: email messages will be skipped" in answer["warnings"]


# -- refusals, field by field -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"phone": "555"}, "phone", "phone number '555' is not a valid number"),
        ({"phone": "call me"}, "phone", "has letters"),
        ({"name": None}, "name", "required"),
        ({"name": "   "}, "name", "name is required"),
        ({"name": "Maria\x00Lopez"}, "name", "must not contain control characters"),
        ({"treatment": "botox"}, "treatment", "unknown treatment 'botox'"),
        ({"completed_at": "2026-11-02 14:30"}, "completed_at", "has no offset"),
        ({"completed_at": "2026-11-02"}, "completed_at", "has no time of day"),
        ({"completed_at": "last tuesday"}, "completed_at", "is not 'YYYY-MM-DD HH:MM'"),
        ({"completed_at": "2026-11-04T09:00:00Z"}, "completed_at", "is in the future"),
        ({"completed_at": "2025-11-02T14:30:00Z"}, "completed_at", "past its deadline"),
        ({"email": "maria@"}, "email", "email address 'maria@' is not valid"),
        ({"timezone": "EST"}, "timezone", "'EST' is not a time zone"),
        ({"language": "fr"}, "language", "unknown language 'fr'"),
        ({"no_sms": True, "no_email": True}, "consent", "nothing would be sent"),
        ({"no_sms": "yes"}, "no_sms", "must be true or false"),
        ({"name": 42}, "name", "must be a string"),
        ({"patient_id": 0}, "patient_id", "greater than or equal to 1"),
        ({"patient_id": 7}, "patient_id", "there is no patient 7"),
        ({"patient_id": 2**31}, "patient_id", "less than or equal to 2147483647"),
        ({"patient_id": 2**64}, "patient_id", "less than or equal to"),
        ({"completedAt": "2026-11-02T14:30:00Z"}, "completedAt", "not a field of this request"),
    ],
)
def test_a_bad_field_is_422_naming_it_and_nothing_is_written(
    client, engine, key, change, field, words
):
    body = {k: v for k, v in {**MARIA, **change}.items() if v is not None}
    response = post(client, key, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words in errors[field]
    assert field in response.json()["detail"]
    assert nothing_written(engine)


def test_every_bad_field_is_named_at_once_in_the_order_of_the_request(client, engine, key):
    body = {"name": "", "phone": "555", "treatment": "botox", "completed_at": "2026-11-02 14:30"}
    errors = post(client, key, body).json()["errors"]
    assert list(errors) == ["name", "phone", "treatment", "completed_at"]
    assert nothing_written(engine)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{oops", "the body is not valid JSON"),
        (b"", "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b"null", "the body must be a JSON object"),
        (b'{"name": "\\ud800"}', "the body is not valid JSON"),
        (b"\xff\xfe{}", "the body is not valid JSON"),
    ],
)
def test_a_body_that_is_no_json_object_is_422_on_body(client, engine, key, content, words):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = client.post(URL, content=content, headers=headers)
    assert response.status_code == 422
    assert words in response.json()["errors"]["body"]
    assert nothing_written(engine)


def test_a_body_not_sent_as_json_is_415_and_a_huge_one_413(client, engine, key):
    auth = {"Authorization": f"Bearer {key}"}
    form = client.post(URL, data={"name": "Maria"}, headers=auth)
    assert form.status_code == 415
    assert "Content-Type: application/json" in form.json()["detail"]
    huge = post(client, key, {**MARIA, "name": "M" * 70_000})
    assert huge.status_code == 413
    assert nothing_written(engine)


def test_errors_are_json_never_a_page_or_a_login_redirect(client, key):
    for response in (client.get("/api/v1/nothing"), client.get(URL), client.get("/api/nothing")):
        assert response.status_code in (404, 405)
        assert response.headers["content-type"] == "application/json"
        assert "detail" in response.json()


def test_a_database_outage_is_503_json(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'never-migrated.db'}", tmp_path)
    engine = make_engine(settings.database_url)
    with TestClient(create_app(settings, engine, clock=lambda: NOW)) as client:
        response = post(client, "ak_whatever")
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database is unavailable")


# -- Idempotency-Key --------------------------------------------------------------------------


def test_the_same_key_and_body_again_gets_the_first_answer_and_enrolls_nothing(client, engine, key):
    first = post(client, key, **{"Idempotency-Key": "visit-8812"})
    written = counts(engine)
    reordered = json.dumps(dict(reversed(MARIA.items())), indent=4)  # the same request
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    headers["Idempotency-Key"] = "visit-8812"
    again = client.post(URL, content=reordered, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert counts(engine) == written


def test_the_same_key_with_another_body_is_422_and_changes_nothing(client, engine, key):
    post(client, key, **{"Idempotency-Key": "visit-8812"})
    written = counts(engine)
    other = post(client, key, {**MARIA, "treatment": "sts"}, **{"Idempotency-Key": "visit-8812"})
    assert other.status_code == 422
    assert "another body" in other.json()["errors"]["Idempotency-Key"]
    assert counts(engine) == written


def test_keys_of_two_api_keys_do_not_collide(client, engine, key):
    other_key = new_key(engine, "Billing system")
    first = post(client, key, **{"Idempotency-Key": "1"})
    second = post(client, other_key, {**MARIA, "treatment": "laser"}, **{"Idempotency-Key": "1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["session_id"] != first.json()["session_id"]
    assert post(client, key, **{"Idempotency-Key": "1"}).json() == first.json()


def test_a_refused_request_is_not_kept_so_its_key_can_carry_the_fixed_one(client, engine, key):
    refused = post(client, key, {**MARIA, "phone": "555"}, **{"Idempotency-Key": "k"})
    assert refused.status_code == 422
    assert post(client, key, **{"Idempotency-Key": "k"}).status_code == 201


def test_a_kept_answer_is_forgotten_after_two_days(client, engine, clock, key):
    post(client, key, **{"Idempotency-Key": "k"})
    clock.advance(hours=47)
    assert post(client, key, **{"Idempotency-Key": "k"}).status_code == 200
    clock.advance(hours=2)
    assert post(client, key, **{"Idempotency-Key": "k"}).status_code == 201
    assert counts(engine)["idempotency_record"] == 1


@pytest.mark.parametrize("value", ["", "with spaces", "x" * 256, "tab\there"])
def test_an_idempotency_key_must_be_visible_ascii_of_at_most_255(client, engine, key, value):
    response = post(client, key, **{"Idempotency-Key": value})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["errors"]
    assert nothing_written(engine)


def test_two_requests_at_once_with_one_key_enroll_once(app, engine, key):
    barrier, answers = threading.Barrier(2), []

    def send() -> None:
        with TestClient(app) as client:
            barrier.wait()
            answers.append(post(client, key, **{"Idempotency-Key": "same"}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert answers[0].json() == answers[1].json()
    assert counts(engine)["treatment_session"] == 1


# -- logs -------------------------------------------------------------------------------------


def test_logs_name_ids_never_the_patient(client, key, caplog):
    caplog.set_level(logging.DEBUG)
    post(client, key, **{"Idempotency-Key": "k"})
    post(client, key, **{"Idempotency-Key": "k"})
    post(client, key, {**MARIA, "phone": "(310) 555-01", "email": "bad@"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "session 1" in logged and "refused (phone, email)" in logged
    for private in ("310", "555", "0142", "-01", "maria", "Maria", "Lopez", "bad@", key):
        assert private not in logged


# -- the description ------------------------------------------------------------------------


def test_openapi_describes_the_endpoint_and_only_the_api(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert list(schema["paths"]) == ["/sessions", "/bookings", "/bookings/{external_id}"]
    assert schema["servers"] == [{"url": "/api/v1"}]
    operation = schema["paths"]["/sessions"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    fields = body["properties"]
    assert set(fields) == {
        "name", "phone", "treatment", "completed_at", "email", "timezone", "language",
        "no_sms", "no_email", "patient_id", "date_of_birth", "shared_phone",
    }  # fmt: skip
    assert set(body["required"]) == {"name", "phone", "treatment", "completed_at"}
    assert all(field.get("description") for field in fields.values())
    assert fields["phone"]["examples"][0] == "+13105550142"
    assert body["examples"][0]["treatment"] == "asclera"
    assert body["additionalProperties"] is False
    assert {"200", "201", "401", "413", "415", "422", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"ApiKey": []}]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    [header] = operation["parameters"]
    assert (header["name"], header["in"]) == ("Idempotency-Key", "header")
    assert header["required"] is False


def test_the_docs_page_is_rendered_from_openapi_without_script(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    html = page.text
    assert "<script" not in html and "cdn" not in html.lower()
    assert "<code>POST /api/v1/sessions</code>" in html
    for field in ("completed_at", "no_sms", "patient_id", "Idempotency-Key"):
        assert f"<code>{field}</code>" in html
    assert 'href="/api/v1/openapi.json"' in html


def test_the_pages_have_still_no_openapi_or_interactive_docs(client):
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path).status_code != 200, path


# -- property: never a server error ---------------------------------------------------------

ANY_TEXT = st.text(max_size=30)  # surrogates and NUL included: JSON can carry them
JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), ANY_TEXT,
)  # fmt: skip
ANY_JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)
LIKELY = {
    "name": st.sampled_from(["Maria Lopez", "maría  LÓPEZ", "Ana Ruiz", "", " "]),
    "phone": st.sampled_from(["+13105550142", "3105550143", "+442071838750", "555", "+1"]),
    "treatment": st.sampled_from(["asclera", "STS", "laser", "test-dose", "botox"]),
    "completed_at": st.sampled_from([
        "2026-11-02T14:30:00-08:00", "2026-11-03T11:59Z", "2026-11-02T14:30", "2026-11-02",
        "2026-03-08T02:30", "2026-11-01T01:30", "2027-01-01T00:00Z", "1970-01-01T00:00Z",
    ]),
    "email": st.sampled_from(["maria@example.com", "MARIA@Example.COM", "maria@", ""]),
    "timezone": st.sampled_from(["America/Los_Angeles", "Europe/London", "EST", "America", ""]),
    "language": st.sampled_from(["en", "es", "ES", "fr", ""]),
    "no_sms": st.booleans(),
    "no_email": st.booleans(),
    "patient_id": st.one_of(st.integers(1, 3), st.integers(min_value=-1, max_value=2**64)),
}  # fmt: skip
FIELD = st.sampled_from(sorted(LIKELY))
BODY = st.one_of(
    st.dictionaries(FIELD, st.one_of(*LIKELY.values(), ANY_JSON), max_size=10).flatmap(
        lambda partial: st.fixed_dictionaries(
            {k: s for k, s in LIKELY.items() if k not in partial}
        ).map(lambda rest: {**rest, **partial})
    ),
    st.dictionaries(st.one_of(FIELD, ANY_TEXT), ANY_JSON, max_size=4),
    ANY_JSON,
)
RAW = st.one_of(BODY.map(lambda body: json.dumps(body).encode()), st.binary(max_size=80))
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300)
FUZZ = examples(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    raw=RAW,
    content_type=st.sampled_from(["application/json", "application/ld+json", "text/plain", ""]),
    idempotency_key=st.one_of(st.none(), st.sampled_from(["k1", "k2"]), HEADER_TEXT),
)
def test_whatever_is_posted_the_answer_is_json_and_never_a_server_error(
    client, engine, key, raw, content_type, idempotency_key
):
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key.encode("latin-1")
    response = client.post(URL, content=raw, headers=headers)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    if response.status_code in (200, 201):
        with session_scope(engine) as session:
            assert session.get(TreatmentSession, answer["session_id"]) is not None
    else:
        assert answer["detail"]


# -- the README's example, as written -------------------------------------------------------


def readme_section() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return text.split("## For practice systems", 1)[1].split("\n## ", 1)[0]


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a loopback port, served by uvicorn as `aftercare web` serves it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's example needs curl")
def test_the_readme_curl_example_works_as_written(app, engine, key):
    section = readme_section()
    [command] = [b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if "curl" in b]
    [answer] = re.findall(r"```json\n(.*?)```", section, re.S)
    env = {"PATH": os.environ["PATH"], "AFTERCARE_API_KEY": key}
    with serving(app) as url:
        runs = [
            subprocess.run(["bash", "-c", command], env={**env, "AFTERCARE_URL": url},
                           capture_output=True, text=True, timeout=30, check=True)
            for _ in range(2)
        ]  # fmt: skip
    assert json.loads(runs[0].stdout) == json.loads(answer)
    assert runs[1].stdout == runs[0].stdout  # its Idempotency-Key: the same answer again
    assert counts(engine)["treatment_session"] == 1


def test_the_date_of_birth_is_stored_and_a_bad_one_is_a_422_by_field(client, engine, key):
    refused = post(client, key, {**MARIA, "date_of_birth": "2999-01-01"})
    assert refused.status_code == 422, refused.text
    assert "date_of_birth" in refused.text and "in the future" in refused.text
    assert post(client, key, {**MARIA, "date_of_birth": "1984-03-09"}).status_code == 201
    with session_scope(engine) as session:
        assert str(session.exec(select(Patient.date_of_birth)).one()) == "1984-03-09"
