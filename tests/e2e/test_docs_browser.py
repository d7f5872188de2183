"""The service's API docs (Swagger UI and ReDoc) render in real headless Chromium with every request that
leaves the service refused: their assets come from the package, not a CDN."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import SHOTS

pytestmark = pytest.mark.slow


@pytest.fixture
def live_workers() -> int:
    return 0


def test_docs_render_with_the_network_cut_off(live_server, browser):
    here = urlparse(live_server).netloc
    leaving: list[str] = []

    def only_the_service(route):
        if urlparse(route.request.url).netloc == here:
            return route.continue_()
        leaving.append((route.request.resource_type, route.request.url))
        return route.abort()

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", only_the_service)
    page.goto(f"{live_server}/docs")
    page.wait_for_selector("#operations-datasets-datasets-upload", timeout=60_000)
    assert page.locator(".opblock").count() >= 20
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "docs-swagger.png"))
    page.goto(f"{live_server}/redoc")
    page.wait_for_selector("h2:has-text(\"Queue an audit\")", timeout=60_000)  # ReDoc rendered the operation
    page.screenshot(path=str(SHOTS / "docs-redoc.png"))
    assert not errors, errors
    # nothing the pages need leaves the service (ReDoc's footer asks its CDN for a decorative logo: refused, harmless)
    assert not [(kind, url) for kind, url in leaving if kind != "image"], leaving
