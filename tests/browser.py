"""A real headless browser for tests: Debian's Chromium driven by Playwright.

    from browser import ARTIFACTS_DIR, browser_page, assert_real_screenshot

    with browser_page() as page:
        page.goto(url)
        page.screenshot(path=ARTIFACTS_DIR / "name.png", full_page=True)

Playwright's own browser downloads are never used (`playwright install` cannot run here): the
page runs in the system Chromium (`apt-get install chromium`), or the one SEGMENTS_CHROMIUM
points at. Without Playwright or Chromium the test skips, and fails under CI=true.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Screenshots and other files a person looks at after a test run (git-ignored, under .local/).
ARTIFACTS_DIR = PROJECT_ROOT / ".local" / "test-artifacts"
CHROMIUM = os.environ.get("SEGMENTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


@contextmanager
def browser_page(
    width: int = 1280, height: int = 900, timeout_ms: int = 30_000, **context_options
) -> Iterator["playwright.sync_api.Page"]:  # noqa: F821
    """A fresh page in a fresh headless Chromium; everything is closed on exit.

    `context_options` go to `browser.new_context` (e.g. `device_scale_factor`, `extra_http_headers`).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: `.venv/bin/pip install playwright==1.65.2`")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium is missing at {CHROMIUM}: `apt-get install -y chromium` (or set SEGMENTS_CHROMIUM)")
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, **context_options)
            context.set_default_timeout(timeout_ms)
            page = context.new_page()
            yield page
            context.close()
        finally:
            browser.close()


def assert_real_screenshot(path: Path, min_width: int = 800, min_height: int = 600, min_colours: int = 16) -> None:
    """The file is a PNG of a rendered page: big enough and not blank (many distinct colours)."""
    from PIL import Image

    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        assert width >= min_width and height >= min_height, f"{path} is only {width}x{height}"
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    distinct = len(colours) if colours is not None else 1 << 20
    assert distinct >= min_colours, f"{path} looks blank: {distinct} distinct colours"
