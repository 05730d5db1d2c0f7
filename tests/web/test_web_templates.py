"""The template editor over HTTP: the list, the live preview, save, history and restore."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from reminders.runtime import Runtime
from reminders.store.defaults import iter_default_templates
from reminders.store.models import OutboxMessage, TemplateRevision
from reminders.web.app import create_app
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)  # Fri 14:35 in Los Angeles
ADMIN, STAFF = "ana@example.com", "bo@example.com"
DAY_1 = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
EMAIL = "/admin/templates/sclerotherapy/what_is_normal/email/es"
SHORT = "Hi {{ first_name }}, {{ clinic_name }} here. Call {{ clinic_phone }}."
# The day-1 file's leading comment, for developers: kept in front of what an admin saves.
COMMENT = (
    Path(__file__).resolve().parents[2] / "templates/sclerotherapy/restriction_day_1.sms.en.j2"
).read_text(encoding="utf-8").split("#}", 1)[0] + "#}"


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    with signed_in(app, ADMIN) as client:
        yield client


@pytest.fixture
def token(admin: TestClient) -> str:
    return csrf_of(admin.get(DAY_1).text)


def versions(runtime: Runtime, step: str = "restriction_day_1") -> list[TemplateRevision]:
    with Session(runtime.engine) as session:
        query = (
            select(TemplateRevision)
            .where(TemplateRevision.step == step, TemplateRevision.channel == "sms")
            .where(TemplateRevision.language == "en")
            .order_by(col(TemplateRevision.version))
        )
        return list(session.exec(query))


def preview_of(client: TestClient, token: str, source: str, path: str = DAY_1) -> str:
    response = client.post(f"{path}/preview", data={"source": source, "csrf_token": token})
    assert response.status_code == 200
    return response.text


def segments(fragment: str) -> int:
    found = re.search(r'<dd id="segments">(\d+)</dd>', fragment)
    assert found, fragment
    return int(found.group(1))


def save(client: TestClient, token: str, source: str, base_version: object = 1, path=DAY_1):
    data = {"source": source, "csrf_token": token, "base_version": str(base_version)}
    return client.post(path, data=data)


# -- who may -----------------------------------------------------------------------------------


def test_staff_are_refused_every_template_page_and_change_nothing(app, runtime):
    staff = signed_in(app, STAFF)
    token = csrf_of(staff.get("/").text)
    for path in ("/admin/templates", DAY_1):
        assert staff.get(path).status_code == 403, path
    posts = [
        (f"{DAY_1}/preview", {"source": SHORT}),
        (DAY_1, {"source": SHORT, "base_version": "1"}),
        (f"{DAY_1}/restore", {"version": "1"}),
    ]
    for path, data in posts:
        assert staff.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert [v.version for v in versions(runtime)] == [1]
    assert [a.action for a in audit(runtime.engine) if a.action.startswith("template")] == []


def test_the_list_shows_every_template_with_its_version_and_links_to_the_editor(admin, runtime):
    page = admin.get("/admin/templates")
    assert page.status_code == 200
    assert f'href="{DAY_1}"' in page.text
    assert 'aria-label="Edit Sclerotherapy: Day 1 restrictions, SMS, English"' in page.text
    assert "restriction_day_1<" not in page.text  # staff read the step's words, never its code
    assert 'href="/admin/templates/laser/aftercare/email/es"' in page.text
    shipped = len(list(iter_default_templates(runtime.settings.templates_dir)))
    assert shipped >= 40
    assert page.text.count('aria-label="Edit ') == shipped  # one row each, loaded by init as v1
    assert page.text.count('<td data-label="Version">1 (default)</td>') == shipped
    assert 'href="/admin/audit"' in page.text  # the admin nav


def test_the_list_says_who_changed_a_template_last_and_when(admin, token):
    assert save(admin, token, SHORT).status_code == 303
    page = admin.get("/admin/templates").text
    row = re.search(
        r'<a [^>]*>Day 1 restrictions</a></td>\s*<td data-label="Channel">SMS</td>\s*'
        r'<td data-label="Language">English</td>(.*?)</tr>',
        page,
        re.S,
    )
    assert row, page
    assert '<td data-label="Version">2</td>' in row.group(1)
    assert f'<td data-label="Changed by">{ADMIN}</td>' in row.group(1)
    assert "2026-11-20 14:35 PST" in row.group(1)  # the clinic's clock


@pytest.mark.parametrize(
    "path",
    [
        "/admin/templates/sclerotherapy/no_such_step/sms/en",
        "/admin/templates/sclerotherapy/restriction_day_1/fax/en",
        "/admin/templates/sclerotherapy/restriction_day_1/sms/fr",
        "/admin/templates/..%2F..%2Fetc/restriction_day_1/sms/en",
    ],
)
def test_a_template_that_does_not_exist_is_not_found(admin, token, runtime, path):
    assert admin.get(path).status_code == 404
    assert save(admin, token, SHORT, path=path).status_code == 404
    assert (
        admin.post(f"{path}/restore", data={"version": "1", "csrf_token": token}).status_code == 404
    )
    assert [v.version for v in versions(runtime)] == [1]


# -- the editor page ---------------------------------------------------------------------------


def test_the_editor_has_a_labelled_textarea_that_previews_as_the_admin_types(admin):
    page = admin.get(DAY_1)
    assert page.status_code == 200
    text = page.text
    assert re.search(
        r'<label for="source">Template</label>\s*<textarea id="source" name="source"', text
    )
    textarea = re.search(r"<textarea[^>]*>", text, re.S).group(0)
    assert f'hx-post="{DAY_1}/preview"' in textarea
    assert 'hx-trigger="input changed delay:300ms"' in textarea
    assert 'hx-include="closest form"' in textarea  # which carries the CSRF token
    assert 'hx-target="#preview"' in textarea
    form = re.search(
        r'<form method="post" action="' + DAY_1 + '" id="template-form">.*?</form>', text, re.S
    )
    assert form and 'name="csrf_token"' in form.group(0)
    assert "Good morning, {{ first_name }}!" in html.unescape(text)
    assert '<section aria-labelledby="preview-heading">' in text
    assert '<h2 id="preview-heading">Preview</h2>' in text
    assert "Good morning, Maria!" in text  # the preview is there before any typing
    assert '<button type="submit">Save</button>' in text


def test_htmx_is_served_from_this_site_and_the_page_keeps_its_strict_csp(admin):
    page = admin.get(DAY_1)
    assert '<script src="/static/htmx.min.js" defer></script>' in page.text
    assert '"allowEval": false' in page.text
    assert "<script>" not in page.text and " on" + "input=" not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe" not in csp
    script = admin.get("/static/htmx.min.js")
    assert script.status_code == 200
    assert 'version:"2.' in script.text
    assert admin.get("/static/htmx.LICENSE").status_code == 200


def test_the_email_editor_says_how_an_email_template_is_laid_out(admin):
    page = admin.get(EMAIL).text
    assert '<label for="subject">Subject</label>' in page
    assert "a link is <code>[words](https://…)</code>" in page
    button = 'data-insert="{{ treatment_name }}"'
    assert button in page  # emails may name it
    assert button not in admin.get(DAY_1).text  # SMS may not


# -- the preview -------------------------------------------------------------------------------


def test_the_preview_shows_the_sms_as_sent_with_its_encoding_and_segments(admin, token):
    fragment = preview_of(admin, token, SHORT)
    assert "<html" not in fragment  # a fragment for htmx, not a page
    assert "Hi Maria, Fine Touch Dermatology here. Call 877-337-6424." in fragment
    assert '<dd id="encoding">GSM-7</dd>' in fragment
    assert segments(fragment) == 1
    assert 'id="first-text"' in fragment  # lacks STOP: a first text would get the line
    assert 'id="preview-warnings"' not in fragment


def test_the_segment_count_follows_the_length(admin, token):
    words = "Please avoid hot baths today. "
    counts = [segments(preview_of(admin, token, SHORT + " " + words * n)) for n in (0, 4, 9)]
    assert counts == [1, 2, 3]
    long = preview_of(admin, token, SHORT + " " + words * 9)
    assert "This SMS takes 3 segments" in long


def test_a_character_that_forces_ucs2_is_named(admin, token):
    fragment = preview_of(admin, token, "Llámenos, {{ first_name }} 😀")
    assert '<dd id="encoding">UCS-2</dd>' in fragment
    listed = re.search(r'<ul id="ucs2-characters"[^>]*>(.*?)</ul>', fragment, re.S)
    assert listed, fragment
    assert "<li>á LATIN SMALL LETTER A WITH ACUTE (U+00E1)</li>" in listed.group(1)
    assert "<li>😀 GRINNING FACE (U+1F600)</li>" in listed.group(1)


def test_typographic_quotes_are_swapped_as_the_send_does_so_they_cost_nothing(admin, token):
    fragment = preview_of(admin, token, "It\u2019s {{ first_name }}\u2019s day \u2014 rest.")
    assert "It&#39;s Maria&#39;s day - rest." in fragment
    assert '<dd id="encoding">GSM-7</dd>' in fragment
    assert 'id="ucs2-characters"' not in fragment


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("Hi {{ first_name", "Line 1: syntax error: unexpected end of template"),
        ("Hi\n{{ oops }}", "Line 2: &#39;oops&#39; is undefined"),
        ("{{ ''.__class__.__mro__ }}", "Line 1: unsafe operation blocked: access to attribute"),
        ("{% for x in range(10**6) %}x{% endfor %}", "unsafe operation blocked"),
        ("{# only a comment #}", "The SMS body is empty"),
        ("x" * 20_001, "The template is 20,001 characters; at most 20,000"),
    ],
)
def test_a_template_that_cannot_render_shows_why_in_the_preview(admin, token, source, shown):
    fragment = preview_of(admin, token, source)
    problem = re.search(r'<p class="error" role="alert" id="template-problem">(.*?)</p>', fragment)
    assert problem, fragment
    assert shown in problem.group(1)
    assert 'id="segments"' not in fragment


def test_an_sms_may_not_use_the_treatment_name_and_says_which_setting_allows_it(admin, token):
    fragment = preview_of(admin, token, "Hi {{ first_name }}, how is your {{ treatment_name }}?")
    assert "&#39;treatment_name&#39; is undefined" in fragment
    assert "unless the clinic sets SMS_MAY_NAME_TREATMENT" in fragment


def test_an_sms_that_names_a_treatment_gets_the_privacy_warning(admin, token):
    fragment = preview_of(admin, token, "Hi {{ first_name }}, rest your veins after the laser.")
    assert segments(fragment) == 1  # it renders: a warning, not a refusal
    warnings = re.search(
        r'<ul class="warnings" id="preview-warnings"[^>]*>(.*?)</ul>', fragment, re.S
    )
    assert warnings, fragment
    assert "This SMS names the treatment (vein, laser)" in warnings.group(1)


def test_a_clinic_that_lets_sms_name_the_treatment_gets_no_privacy_warning(
    runtime, clock, database_url, tmp_path
):
    settings = runtime.settings.model_copy(update={"sms_may_name_treatment": True})
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    app = create_app(settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)
    client = signed_in(app, ADMIN)
    token = csrf_of(client.get(DAY_1).text)
    fragment = preview_of(client, token, "Hi {{ first_name }}, how is your {{ treatment_name }}?")
    assert "how is your Asclera sclerotherapy?" in fragment
    assert 'id="preview-warnings"' not in fragment


def test_the_email_preview_shows_subject_text_and_the_footer_the_send_adds(admin):
    token = csrf_of(admin.get(EMAIL).text)
    source = (
        "{% block subject %}Hola {{ first_name }}{% endblock %}"
        "{% block text %}Su {{ treatment_name }} fue hoy.{% endblock %}"
        "{% block html %}<p>Su {{ treatment_name }} fue hoy.</p>{% endblock %}"
    )
    fragment = preview_of(admin, token, source, path=EMAIL)
    assert '<span id="preview-subject">Hola Maria</span>' in fragment
    body = re.search(r'<pre class="message" id="preview-body">(.*?)</pre>', fragment, re.S)
    assert body, fragment
    assert body.group(1).startswith("Su Asclera sclerotherapy fue hoy.")
    assert "Recibe estos correos después de su visita a Fine Touch Dermatology" in body.group(1)
    assert "&lt;p&gt;Su Asclera sclerotherapy fue hoy.&lt;/p&gt;" in fragment  # the HTML part
    assert 'id="segments"' not in fragment


def test_an_email_without_its_blocks_is_a_problem(admin):
    token = csrf_of(admin.get(EMAIL).text)
    fragment = preview_of(admin, token, "Hola {{ first_name }}", path=EMAIL)
    assert "The email needs a first line &#39;Subject: ...&#39;, then its text" in fragment


@pytest.mark.parametrize("sent", [None, "", "forged-token"])
def test_the_preview_needs_the_sessions_csrf_token(admin, sent):
    data = {"source": SHORT} | ({} if sent is None else {"csrf_token": sent})
    response = admin.post(f"{DAY_1}/preview", data=data)
    assert response.status_code == 403
    assert "Maria" not in response.text


# -- save --------------------------------------------------------------------------------------


def test_a_save_is_the_next_version_by_the_admin_and_is_audited_without_the_text(
    admin, token, runtime, clock
):
    clock.advance(minutes=10)
    response = save(admin, token, SHORT + "\r\nSee you soon.\r\n")
    assert (response.status_code, response.headers["location"]) == (303, f"{DAY_1}?done=saved")
    latest = versions(runtime)[-1]
    assert (latest.version, latest.is_default, latest.created_by) == (2, False, ADMIN)
    assert latest.created_at == NOW + timedelta(minutes=10)
    # stored with LF, as the files are, after the developers' comment the form does not show
    assert latest.source == f"{COMMENT}\n{SHORT}\nSee you soon.\n"
    [entry] = [a for a in audit(runtime.engine) if a.action == "template_save"]
    assert (entry.actor, entry.entity, entry.entity_id) == (ADMIN, "template_revision", latest.id)
    assert entry.detail == (
        "plan=sclerotherapy step=restriction_day_1 channel=sms language=en version=2"
    )
    page = admin.get(response.headers["location"]).text
    assert "Saved: new messages use this version." in page
    assert '<strong id="version-in-use">2</strong>' in page
    assert 'name="base_version" value="2"' in page


def test_a_broken_template_is_not_saved_and_what_was_typed_is_kept(admin, token, runtime):
    before = len(audit(runtime.engine))
    typed = "Good morning {{ first_name }} <b>&</b> {{ oops }}"
    response = save(admin, token, typed)
    assert response.status_code == 400
    assert "Not saved: Line 1: &#39;oops&#39; is undefined." in response.text
    textarea = re.search(r"<textarea[^>]*>\n(.*?)</textarea>", response.text, re.S)
    assert textarea and html.unescape(textarea.group(1)) == typed
    assert [v.version for v in versions(runtime)] == [1]
    assert len(audit(runtime.engine)) == before


def test_a_save_over_a_version_someone_else_saved_meanwhile_is_refused_and_kept(
    app, admin, token, runtime
):
    other = signed_in(app, ADMIN)
    assert save(other, csrf_of(other.get(DAY_1).text), SHORT).status_code == 303
    typed = SHORT + " Mine."
    response = save(admin, token, typed, base_version=1)
    assert response.status_code == 409
    assert "version 2 was saved since you opened this template" in response.text
    assert html.escape(typed, quote=False) in response.text
    assert 'name="base_version" value="2"' in response.text  # saving again is deliberate
    assert [v.source for v in versions(runtime)][1:] == [f"{COMMENT}\n{SHORT}"]
    assert save(admin, token, typed, base_version=2).status_code == 303
    assert versions(runtime)[-1].source == f"{COMMENT}\n{typed}"


def test_a_non_number_base_version_is_a_clear_refusal(admin, token, runtime):
    response = save(admin, token, SHORT, base_version="1; drop table")
    assert response.status_code == 400
    assert "is not a version number" in response.text
    assert len(versions(runtime)) == 1


@pytest.mark.parametrize("sent", [None, "forged-token"])
def test_save_and_restore_need_the_sessions_csrf_token(admin, runtime, sent):
    extra = {} if sent is None else {"csrf_token": sent}
    assert (
        admin.post(DAY_1, data={"source": SHORT, "base_version": "1", **extra}).status_code == 403
    )
    assert admin.post(f"{DAY_1}/restore", data={"version": "1", **extra}).status_code == 403
    assert len(versions(runtime)) == 1


# -- history and restore -----------------------------------------------------------------------


def test_the_history_lists_versions_with_author_and_time_and_restore_buttons(admin, token, clock):
    clock.advance(hours=1)
    save(admin, token, SHORT)
    page = admin.get(DAY_1).text
    history = re.search(r'<h2 id="history-heading">History</h2>(.*?)</section>', page, re.S)
    assert history
    rows = re.findall(
        r"<tr>\s*<td[^>]*>(\d+)[^<]*</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>",
        history.group(1),
    )
    assert rows == [
        ("2", ADMIN, "2026-11-20 15:35 PST"),
        ("1", "defaults", rows[1][2]),
    ]
    assert 'aria-label="Restore version 1"' in history.group(1)
    assert 'aria-label="Restore version 2"' not in history.group(1)  # the one in use


def test_restore_makes_a_new_version_with_the_old_text_and_is_audited(admin, token, runtime):
    original = versions(runtime)[0].source
    save(admin, token, SHORT)
    response = admin.post(f"{DAY_1}/restore", data={"version": "1", "csrf_token": token})
    assert (response.status_code, response.headers["location"]) == (303, f"{DAY_1}?done=restored")
    rows = versions(runtime)
    assert [(v.version, v.is_default) for v in rows] == [(1, True), (2, False), (3, False)]
    assert rows[2].source == original and rows[2].created_by == ADMIN
    [entry] = [a for a in audit(runtime.engine) if a.action == "template_restore"]
    assert entry.entity_id == rows[2].id
    assert entry.detail and entry.detail.endswith("version=3 restored_from=1")
    page = admin.get(response.headers["location"]).text
    assert "Restored as a new version." in page
    assert html.escape("Good morning, {{ first_name }}!", quote=False) in page


@pytest.mark.parametrize(
    ("version", "status", "says"),
    [
        ("1", 409, "Version 1 is the one in use already."),
        ("7", 404, "there is no version 7"),
        ("", 404, "there is no version"),
        ("x", 400, "is not a version number"),
    ],
)
def test_a_restore_that_makes_no_sense_is_refused(admin, token, runtime, version, status, says):
    response = admin.post(f"{DAY_1}/restore", data={"version": version, "csrf_token": token})
    assert response.status_code == status
    assert says in response.text
    assert len(versions(runtime)) == 1


def test_a_version_that_no_longer_renders_is_not_restored(admin, token, runtime):
    with Session(runtime.engine) as session:  # saved when the clinic let SMS name treatments
        session.add(
            TemplateRevision(plan="sclerotherapy", step="restriction_day_1", channel="sms",
                             language="en", version=2, source="Your {{ treatment_name }}",
                             created_by=ADMIN, created_at=NOW)
        )  # fmt: skip
        session.commit()
    save(admin, token, SHORT, base_version=2)
    response = admin.post(f"{DAY_1}/restore", data={"version": "2", "csrf_token": token})
    assert response.status_code == 400
    assert "Not restored: version 2 no longer renders" in response.text
    assert len(versions(runtime)) == 3


# -- what patients already got ----------------------------------------------------------------


def test_a_message_sent_before_an_edit_keeps_its_body_and_later_ones_use_the_edit(
    admin, runtime, clock
):
    completed = NOW - timedelta(minutes=5)
    enroll_patient(runtime, completed_at=completed, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    sent_before = sent_sms(runtime, "aftercare")
    assert sent_before.template_version == 1 and "Maria" in (sent_before.body or "")
    path = "/admin/templates/sclerotherapy/aftercare/sms/en"
    token = csrf_of(admin.get(path).text)
    edited = "Hello {{ first_name }}, from {{ clinic_name }}: rest today. Reply STOP to opt out."
    assert save(admin, token, edited, path=path).status_code == 303

    assert sent_sms(runtime, "aftercare").body == sent_before.body  # untouched by the edit
    enroll_patient(runtime, completed_at=completed, now=NOW, name="Lucia Diaz",
                   phone="+13105550199", email=None)  # fmt: skip
    make_dispatcher(runtime, lambda: NOW).run_once()
    bodies = {m.body: m.template_version for m in all_sms(runtime, "aftercare")}
    assert bodies == {
        sent_before.body: 1,
        "Hello Lucia, from Fine Touch Dermatology: rest today. Reply STOP to opt out.": 2,
    }


def all_sms(runtime: Runtime, step: str) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.step == step, OutboxMessage.channel == "sms"
        )
        return list(session.exec(query.order_by(col(OutboxMessage.id))))


def sent_sms(runtime: Runtime, step: str) -> OutboxMessage:
    [message] = all_sms(runtime, step)
    assert message.status == "sent"
    return message


def test_a_new_template_file_not_loaded_yet_is_listed_and_its_first_save_is_version_1(
    runtime, clock, tmp_path
):
    templates = tmp_path / "templates"
    shutil.copytree(runtime.settings.templates_dir, templates)
    (templates / "sclerotherapy" / "extra.sms.en.j2").write_text("Hi {{ first_name }}.\n")
    settings = runtime.settings.model_copy(update={"templates_dir": templates})
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    client = signed_in(
        create_app(settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS), ADMIN
    )
    listing = client.get("/admin/templates").text
    assert re.search(
        r'<a [^>]*>Extra</a></td>\s*<td data-label="Channel">SMS</td>\s*'
        r'<td data-label="Language">English</td>\s*<td data-label="Version">file</td>',
        listing,
    )
    path = "/admin/templates/sclerotherapy/extra/sms/en"
    page = client.get(path).text
    assert "In use: the file default, not loaded into the database yet." in page
    assert 'name="base_version" value=""' in page
    assert save(client, csrf_of(page), SHORT, base_version="", path=path).status_code == 303
    assert [v.version for v in versions(runtime, "extra")] == [1]


def test_a_preview_after_the_session_ended_sends_the_whole_page_to_log_in(admin, app, token):
    """Not the login form inside the preview pane: htmx follows HX-Redirect with the page."""
    admin.post("/logout", data={"csrf_token": token})
    headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{DAY_1}?done=saved"}
    response = admin.post(f"{DAY_1}/preview", data={"source": SHORT}, headers=headers)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"/login?next={DAY_1}%3Fdone%3Dsaved"
    plain = admin.post(f"{DAY_1}/preview", data={"source": SHORT})
    assert (plain.status_code, plain.headers["location"]) == (303, "/login")  # a POST: no next
