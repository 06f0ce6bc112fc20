"""Every portal page in real headless Chromium: no console error, nothing from another host.

Each page is saved as a screenshot in `.screenshots/` (git-ignored), at 1,400 px
and at a phone's 390 px, for a person to look at.
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / ".screenshots"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


def _playwright():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs the playwright package: pip install -r requirements-dev.txt")
    return sync_playwright


class Watcher:
    """Console errors, page errors and requests to any other host, for one page."""

    def __init__(self, page, origin_host: str):
        self.problems: list[str] = []
        self.origin_host = origin_host
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("request", self._request)
        page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))

    def _console(self, message):
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request(self, request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.hostname != self.origin_host:
            self.problems.append(f"request to another host: {request.url}")


@pytest.fixture
def browser():
    sync_playwright = _playwright()
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes around it are synchronous all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _logged_in_context(browser, client, live_server, viewport):
    context = browser.new_context(viewport=viewport)
    host = urlsplit(live_server.url).hostname
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": host,
                "path": "/",
            }
        ]
    )
    return context


def _visit(context, live_server, path: str, name: str, status: int = 200) -> list[str]:
    page = context.new_page()
    watcher = Watcher(page, urlsplit(live_server.url).hostname)
    response = page.goto(live_server.url + path, wait_until="networkidle")
    # The browser reports a 4xx answer as a console error; an expected one is no problem.
    problems = [p for p in watcher.problems if status == 200 or f"status of {status}" not in p]
    if response is None or response.status != status:
        problems.append(f"status {response.status if response else 'none'}")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.close()
    return [f"{path}: {problem}" for problem in problems]


def test_every_portal_page_renders_in_chromium_without_errors_or_other_hosts(
    browser, live_server, personas, traffic, journeys_set, transactional_db
):
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    owner = personas.client_for(personas.owner)
    viewer = personas.client_for(personas.teammate)
    user_id = traffic.user.public_id
    pages = [
        ("home", "/portal/"),
        ("dashboard", personas.url("?period=7d")),
        ("dashboard-day", personas.url("?period=day")),
        ("dashboard-filtered", personas.url("?period=7d&filters=channel%3D%3DDirect&sources=source")),
        ("dashboard-custom", personas.url("?period=custom&date=2026-11-16,2026-11-29")),
        ("dashboard-bad-period", personas.url("?period=fortnight")),
        ("conversions", personas.url("conversions/?period=7d")),
        ("flows", personas.url("flows/?period=7d")),
        ("flows-from-page", personas.url("flows/?period=7d&from=%2F&steps=4")),
        ("funnels-empty", personas.url("funnels/?period=7d")),
        ("funnels", personas.url("funnels/?period=7d&step=%2F&step=%2Fpricing&step=%2Fsignup")),
        ("users", personas.url("users/")),
        ("users-search", personas.url("users/?q=ada")),
        ("user", personas.url(f"users/{user_id}/")),
        ("journeys", personas.url("journeys/")),
        ("journey", personas.url(f"journeys/{journeys_set.journey.pk}/")),
        ("webhooks", personas.url("webhooks/")),
        ("webhook", personas.url(f"webhooks/{journeys_set.endpoint.public_id}/")),
        ("settings", personas.url("settings/")),
    ]
    problems = []
    desktop = _logged_in_context(browser, owner, live_server, DESKTOP)
    for name, path in pages:
        problems += _visit(desktop, live_server, path, name, status=400 if name.endswith("bad-period") else 200)
    phone = _logged_in_context(browser, owner, live_server, PHONE)
    for name, path in pages:
        if name in ("home", "dashboard", "conversions", "flows", "funnels", "user", "journey", "webhook", "settings"):
            problems += _visit(phone, live_server, path, f"phone-{name}")
    viewer_context = _logged_in_context(browser, viewer, live_server, DESKTOP)
    problems += _visit(viewer_context, live_server, personas.url("settings/"), "settings-viewer")
    problems += _visit(viewer_context, live_server, personas.url("webhooks/"), "webhooks-viewer")
    anonymous = browser.new_context(viewport=DESKTOP)
    problems += _visit(anonymous, live_server, "/portal/login/", "login")
    problems += _rotate_in_browser(desktop, live_server, personas)
    assert problems == []


def _rotate_in_browser(context, live_server, personas) -> list[str]:
    """The rotate button works in a real browser (CSRF token, POST) and shows the new key once."""
    page = context.new_page()
    watcher = Watcher(page, urlsplit(live_server.url).hostname)
    page.goto(live_server.url + personas.url("settings/"))
    page.get_by_role("button", name="Rotate the secret key").click()
    page.wait_for_load_state("networkidle")
    shown = page.locator("#new-secret-key").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "settings-rotated.png"), full_page=True)
    page.close()
    problems = list(watcher.problems)
    if not shown.startswith("sk_"):
        problems.append(f"rotate: no new key shown ({shown!r})")
    return problems
