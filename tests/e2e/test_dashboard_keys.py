"""The dashboard with auth on, in real headless Chromium: it asks for an API key, then shows only
that tenant's audits; another tenant's audit page shows the 404, not its data."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from labelaudit.services.keys import create_api_key
from labelaudit.store.db import open_database
from tests.service_fixtures import npy_bytes, synthetic_pred_probs, wait_for
from tests.e2e.conftest import SHOTS

pytestmark = pytest.mark.slow


@pytest.fixture
def service_settings(service_settings):
    return service_settings.model_copy(update={"auth": "on"})


@pytest.fixture
def keys(service_settings):
    db = open_database(service_settings)
    try:
        return {t: create_api_key(db, t)[1] for t in ("team-a", "team-b")}
    finally:
        db.dispose()


def test_dashboard_with_api_keys_shows_only_the_tenants_audits(keys, live_server, browser):
    audits = {}
    for tenant, seed in (("team-a", 1), ("team-b", 2)):
        probs, labels = synthetic_pred_probs(300, k=4, seed=seed)[:2]
        with httpx.Client(base_url=live_server, timeout=60, headers={"Authorization": f"Bearer {keys[tenant]}"}) as c:
            ds = c.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(probs.astype(np.float32))),
                                               "labels_file": ("l.npy", npy_bytes(labels))},
                        data={"format": "pred-probs", "name": f"{tenant}-set"}).json()
            audits[tenant] = c.post("/v1/audits", json={"dataset_id": ds["id"]}).json()["id"]
            wait_for(lambda: c.get(f"/v1/audits/{audits[tenant]}").json()["status"] == "done", timeout=60)

    page = browser.new_page()
    page.goto(f"{live_server}/dashboard")
    page.wait_for_selector("header.top .key input[type=password]")  # 401 -> the key prompt
    page.fill("header.top .key input", keys["team-a"])
    page.click("header.top .key button")
    page.wait_for_selector(f"#audits-table tr[data-id='{audits['team-a']}']")
    assert page.locator("#audits-table tbody tr[data-id]").count() == 1
    assert page.locator(f"#audits-table tr[data-id='{audits['team-b']}']").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "07-keyed-audits-list.png"))
    page.goto(f"{live_server}/dashboard/audits/{audits['team-b']}")
    page.wait_for_function("document.body.innerText.includes('no audit')")
    assert "team-b-set" not in page.inner_text("body")
    page.screenshot(path=str(SHOTS / "08-other-tenant-404.png"))
