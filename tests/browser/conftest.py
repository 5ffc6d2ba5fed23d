"""Fixtures of the real-browser tests: Debian's headless chromium, driven by Playwright.

Chromium comes from Debian's `chromium` package (`make browser` installs it; `make test`
depends on that), never from a Playwright download. Without /usr/bin/chromium the tests
are skipped with a reason locally, and fail when REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from tests.service_gates import service_unavailable

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        service_unavailable(
            f"needs Debian's chromium at {CHROMIUM}: run `make browser` "
            "(apt-get install -y --no-install-recommends chromium)"
        )
    return CHROMIUM


@pytest.fixture
def browser_page(chromium_executable: Path, monkeypatch) -> Iterator:
    """A fresh page of headless chromium, 1366x900, closed after the test."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio event loop in this thread; the test's own ORM
    # calls (checking rows while the browser is open) are synchronous and safe, but Django
    # refuses them while a loop runs unless told otherwise. Only for this test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.set_default_timeout(20_000)
            yield context.new_page()
        finally:
            browser.close()
            # ORM calls made while the loop ran used connections of their own context;
            # close them here, or they outlive the test and block the test database's drop.
            connections.close_all()


@pytest.fixture
def screenshots() -> Path:
    """var/screenshots/ (git-ignored with var/): one PNG per step, for humans to look at."""
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
