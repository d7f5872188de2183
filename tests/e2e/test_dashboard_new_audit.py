"""The dashboard as a full client, in headless Chromium against a live server: upload a table, see the
server's validation messages beside the fields, derive a noisy copy, start an audit and land on its page."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import SHOTS
from tests.service_fixtures import csv_bytes

pytestmark = pytest.mark.slow


def test_upload_noise_and_audit_from_the_dashboard(live_server, browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    table = tmp_path / "digits.csv"
    table.write_bytes(csv_bytes(300))
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/dashboard/new")
    # the upload form's fields come from the API's schema, enums included
    page.wait_for_selector("#upload-label_column")
    assert "csv" in page.inner_text("#upload-format")
    assert "logreg" in page.inner_text("#audit-backbone")

    # a wrong label column: the server's message, beside the field it names
    page.set_input_files("#upload-file", str(table))
    page.fill("#upload-label_column", "species")
    page.click("#upload-button")
    page.wait_for_selector("#upload-form .error")
    assert "422" in page.inner_text("#upload-form .error")
    assert "species" in page.inner_text("#upload-form .field-error")
    assert page.get_attribute("#upload-label_column", "aria-invalid") == "true"

    page.fill("#upload-label_column", "label")
    page.click("#upload-button")
    page.wait_for_selector("#dataset-info:not([hidden])")
    assert page.locator("#upload-form .error").count() == 0
    assert "300 rows" in page.inner_text("#dataset-info")

    # a noisy copy with known true labels
    page.fill("#noise-rate", "0.15")
    page.fill("#noise-seed", "3")
    page.click("#noise-button")
    page.wait_for_function("document.getElementById('dataset-info').textContent.includes('true labels known')")
    noisy_id = page.inner_text("#dataset-info .mono")

    # an out-of-range option is refused by the server and shown beside the field
    page.select_option("#audit-backbone", "logreg")
    page.fill("#audit-folds", "1")
    page.eval_on_selector("#audit-form", "f => f.noValidate = true")  # let the server judge, not the browser
    page.click("#audit-button")
    page.wait_for_selector("#audit-form .field-error")
    assert "folds" in page.inner_text("#audit-form .error")
    page.screenshot(path=str(SHOTS / "10-new-audit-refused.png"), full_page=True)

    page.fill("#audit-folds", "3")
    page.click("#audit-button")
    page.wait_for_url(f"{live_server}/dashboard/audits/au_*", timeout=20_000)
    audit_id = page.url.rsplit("/", 1)[-1]
    page.wait_for_selector("#results:not([hidden])", timeout=120_000)
    page.screenshot(path=str(SHOTS / "11-new-audit-done.png"), full_page=True)
    with httpx.Client(base_url=live_server, timeout=30) as c:
        audit = c.get(f"/v1/audits/{audit_id}").json()
    assert audit["dataset_id"] == noisy_id and audit["options"]["backbone"] == "logreg"
    assert audit["options"]["folds"] == 3 and audit["evaluation"] is not None
    assert errors == []
