"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
live_server.

Playwright's own browser download does not work here, so the tests launch the system Chromium
(`/usr/bin/chromium`). When it is missing and cannot be installed with apt, every browser test is
skipped with a message saying so; nothing else is skipped.

Tests that use `page` need `@pytest.mark.django_db(transaction=True)`: the live server runs in
another thread and must see the test's rows.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_USERNAME = "e2e-admin"
ADMIN_PASSWORD = "e2e-admin-password"
# The README's pictures are refreshed only when asked (UPDATE_SCREENSHOTS=1 make test); every
# other run writes its screenshots to a temporary folder and leaves the work tree as it was.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "postback-portal-screenshots"
)


def _chromium_available() -> str | None:
    """Return why Chromium cannot be had, or None when /usr/bin/chromium is there."""
    if Path(CHROMIUM).exists():
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and apt-get cannot install it here (not root or no apt)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(command, capture_output=True, env=env, check=False)
        if result.returncode != 0:
            return f"{CHROMIUM} is missing and `apt-get install chromium` failed"
    return None if Path(CHROMIUM).exists() else f"{CHROMIUM} is missing after apt-get install"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for the browser tests.

    Scoped to this package, not the session: while Playwright's sync API is started, this thread
    counts as running an asyncio loop, and the tests after tests/e2e that call asyncio.run() (the
    postback sender) would fail. Stopping it when the last browser test ends clears that.
    """
    problem = _chromium_available()
    if problem:
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop in this thread; Django's guard against ORM calls
    # from async code would then refuse the test's own (synchronous) database work.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def admin_login(page: Any, live_server: Any) -> Any:
    """Create a superuser and log `page` in to the admin as it; returns the user."""
    from django.contrib.auth.models import User

    user = User.objects.create_superuser(
        username=ADMIN_USERNAME, email="e2e-admin@network.example", password=ADMIN_PASSWORD
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", ADMIN_USERNAME)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return user


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot in SCREENSHOTS (docs/screenshots/ feeds the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
