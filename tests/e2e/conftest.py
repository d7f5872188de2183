"""Fixtures of the browser tests: headless Chromium (skipped, saying why, where it is absent) on SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: where the browser tests leave their screenshots
SHOTS = Path(os.environ.get("LABELAUDIT_SCREENSHOTS", Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"))


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """One backend is enough here: the API tests cover both; these are about the browser."""
    return request.param


@pytest.fixture
def browser():
    """A headless Chromium driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()
