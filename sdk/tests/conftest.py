"""Fixtures of the JavaScript SDK's tests: Node, the package's node_modules, Chromium, a page origin.

Tests that need Node or Chromium skip, with the reason printed, only when the tool is
not on the machine; `.ci/run` installs both.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from js_sdk_support import CHROMIUM, CHROMIUM_ARGS, JS_DIR, PageServer

MIN_NODE = (20, 11)


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("Node.js is not installed; the JavaScript SDK tests need Node.js 20.11 or newer")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
    if (major, minor) < MIN_NODE:
        # node:test's fake Date and the package's global fetch and crypto need it.
        pytest.skip(f"Node.js {version} is too old; the JavaScript SDK tests need 20.11 or newer")
    return path


@pytest.fixture(scope="session")
def js_modules(node) -> Path:
    """sdk/js/node_modules (esbuild, React for the server-rendering test), installed from the lock file."""
    if not (JS_DIR / "node_modules" / "esbuild").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: install it beside Node.js, or run `npm ci` in sdk/js")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=300)
    return JS_DIR / "node_modules"


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def chromium(chromium_executable):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread while it runs, and
    # Django refuses ORM calls on a thread with a loop; the tests' calls are plain
    # synchronous ones all the same.
    unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if unsafe is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = unsafe


@pytest.fixture
def page_server():
    server = PageServer()
    yield server
    server.close()
