"""The footer every email ends with: how to stop getting them.

The unsubscribe link when the web app is reachable (PUBLIC_BASE_URL and SECRET_KEY set), and
otherwise how to ask the clinic; added by the composer, so the stored body is what was sent
and no admin's edit can drop it.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

_WITH_LINK = {
    "en": "You get these emails after your visit to {clinic}. To stop them: {link}",
    "es": "Recibe estos correos después de su visita a {clinic}. Para no recibirlos más: {link}",
}
_WITHOUT_LINK = {
    "en": "You get these emails after your visit to {clinic}. To stop them, call us at {phone}.",
    "es": (
        "Recibe estos correos después de su visita a {clinic}. Para no recibirlos más, "
        "llámenos al {phone}."
    ),
}


@dataclass(frozen=True)
class EmailFooter:
    text: str
    html: str


def email_footer(language: str, clinic: str, phone: str, link: str | None) -> EmailFooter:
    """The footer in the patient's language (English when there is none for it)."""
    if link:
        template = _WITH_LINK.get(language, _WITH_LINK["en"])
        text = template.format(clinic=clinic, link=link)
        anchor = Markup('<a href="{0}">{0}</a>').format(link)
        html = escape(template).format(clinic=clinic, link=anchor)
    else:
        template = _WITHOUT_LINK.get(language, _WITHOUT_LINK["en"])
        text = template.format(clinic=clinic, phone=phone)
        html = escape(template).format(clinic=clinic, phone=phone)
    return EmailFooter(
        text, str(Markup('<p style="color:#555;font-size:small">{}</p>').format(html))
    )


def with_footer(text: str, html: str | None, footer: EmailFooter) -> tuple[str, str | None]:
    """Both parts with the footer last; in HTML, inside the body when there is one."""
    text = f"{text.rstrip()}\n\n--\n{footer.text}\n"
    if html is None:
        return text, None
    at = html.lower().rfind("</body>")
    if at == -1:
        return text, f"{html.rstrip()}\n{footer.html}\n"
    return text, f"{html[:at].rstrip()}\n{footer.html}\n{html[at:]}"
