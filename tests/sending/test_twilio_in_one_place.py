"""Twilio lives in `reminders/sending/channels/twilio/`: no other module imports its SDK, except
the webhook that must validate and answer Twilio's own requests."""

from __future__ import annotations

import ast
from pathlib import Path

import reminders

PACKAGE = Path(reminders.__file__).parent
HOME = PACKAGE / "sending" / "channels" / "twilio"
WEBHOOK = PACKAGE / "web" / "webhooks.py"  # parses Twilio's form fields and signs its answers


def sdk_imports(source: str) -> list[str]:
    """The `twilio` SDK modules a module's source imports, anywhere in it (lazy ones too)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_sdk(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_sdk(node.module or ""):
            found.append(node.module or "")
    return found


def _is_sdk(module: str) -> bool:
    return module == "twilio" or module.startswith("twilio.")


def test_only_the_twilio_package_and_its_webhook_import_the_sdk() -> None:
    outside = {
        str(path.relative_to(PACKAGE.parent)): sdk_imports(path.read_text(encoding="utf-8"))
        for path in PACKAGE.rglob("*.py")
        if HOME not in path.parents and path != WEBHOOK
    }
    assert {path: names for path, names in outside.items() if names} == {}
    assert sdk_imports((HOME / "channel.py").read_text(encoding="utf-8"))  # the scan sees them


def test_the_scan_finds_every_form_of_import() -> None:
    source = """
import twilio
import twilio.rest as rest
from twilio.base.exceptions import TwilioException

def lazy():
    from twilio.rest import Client
from reminders.sending.channels.twilio.errors import TWILIO_WORDS
import twilight
"""
    assert sdk_imports(source) == ["twilio", "twilio.rest", "twilio.base.exceptions", "twilio.rest"]
