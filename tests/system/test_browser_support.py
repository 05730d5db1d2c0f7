"""Finding Chromium for the browser tests: skip without one, but fail when CI requires it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import expect_no_serious_violations, find_chromium, require_browser


@pytest.fixture
def fake_chromium(tmp_path: Path) -> str:
    path = tmp_path / "chromium"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_aftercare_chromium_names_the_browser(monkeypatch, fake_chromium: str) -> None:
    monkeypatch.setenv("AFTERCARE_CHROMIUM", fake_chromium)
    assert find_chromium() == fake_chromium
    assert require_browser() == fake_chromium


def test_a_missing_chromium_skips_with_the_reason(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AFTERCARE_CHROMIUM", str(tmp_path / "absent"))
    monkeypatch.delenv("AFTERCARE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no Chromium at .*absent"):
        require_browser()


def test_a_missing_chromium_fails_when_ci_requires_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AFTERCARE_CHROMIUM", str(tmp_path / "absent"))
    monkeypatch.setenv("AFTERCARE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="AFTERCARE_REQUIRE_BROWSER=1"):
        require_browser()


def test_a_file_that_cannot_run_is_no_browser(monkeypatch, tmp_path: Path) -> None:
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    monkeypatch.setenv("AFTERCARE_CHROMIUM", str(not_executable))
    assert not os.access(not_executable, os.X_OK)
    assert find_chromium() is None


@pytest.mark.browser
def test_axe_finds_a_serious_problem_on_a_page_that_has_one(browser) -> None:
    """The accessibility check every screenshot runs is not a formality: an unlabelled field
    and an image without words fail it."""
    page = browser.new_page()
    try:
        page.set_content(
            "<html lang=en><title>Bad page</title>"
            "<main><input type=text><img src=x.png></main></html>"
        )
        with pytest.raises(AssertionError, match=r"'image-alt'.*'label'|'label'.*'image-alt'"):
            expect_no_serious_violations(page, "bad page")
        page.set_content(
            "<html lang=en><title>Good page</title><main><h1>Fine</h1>"
            "<label>Name <input type=text></label></main></html>"
        )
        expect_no_serious_violations(page, "good page")
    finally:
        page.close()
