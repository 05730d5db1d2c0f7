"""The defaults shipped beside the code, read from disk: `care_plans.toml` and `templates/`.

The rules that check them are pure (`rules.care_plans`, `rules.rendering`); this module is the
only one that opens those files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from reminders.rules.care_plans import CarePlanError, CarePlans, parse_care_plans

if TYPE_CHECKING:  # Jinja2 is loaded by what renders or loads templates, not every command
    from reminders.rules.rendering import TemplateKey

DEFAULT_PLANS_FILE = Path(__file__).resolve().parent.parent / "care_plans.toml"


def load_care_plans(path: Path = DEFAULT_PLANS_FILE) -> CarePlans:
    """Read and check the plans file; a mistake raises CarePlanError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CarePlanError(f"{path}: {exc}") from None
    return parse_care_plans(text, str(path))


def default_template_path(
    templates_dir: Path, plan: str, step: str, channel: str, language: str
) -> Path:
    """Where the file default of a template lives; refuses names that could leave the directory."""
    from reminders.rules.rendering import TEMPLATE_NAME_PART

    for part in (plan, step, channel, language):
        if not TEMPLATE_NAME_PART.match(part):
            raise ValueError(f"not a valid template name part: {part!r}")
    return templates_dir / plan / f"{step}.{channel}.{language}.j2"


def iter_default_templates(templates_dir: Path) -> Iterator[tuple[TemplateKey, str]]:
    """Every `<plan>/<step>.<channel>.<language>.j2` under `templates_dir`, in sorted order.

    A `.j2` file whose name does not have that shape is an error, not silently skipped: it is
    almost always a typo that would leave a message without its template.
    """
    from reminders.rules.rendering import TEMPLATE_NAME_PART, TemplateKey

    plan_dirs = (
        p for p in templates_dir.iterdir() if p.is_dir() and TEMPLATE_NAME_PART.match(p.name)
    )
    for plan_dir in sorted(plan_dirs):
        for path in sorted(plan_dir.glob("*.j2")):
            parts = path.name.removesuffix(".j2").split(".")
            if len(parts) != 3 or not all(TEMPLATE_NAME_PART.match(part) for part in parts):
                raise ValueError(f"{path}: expected a name <step>.<channel>.<language>.j2")
            step, channel, language = parts
            yield TemplateKey(plan_dir.name, step, channel, language), path.read_text("utf-8")
