"""The dashboard in real headless Chromium (Debian's ``chromium`` driven by Playwright) against a live server.

Upload 800 MNIST test images, inject pairwise noise, audit the noisy copy with a
small CNN (and the original with logistic regression, to compare), then: watch the live progress, open the finished
audit, check the heatmap and the issue table's thumbnails, filter by a class,
page forward, open one example, and compare the two audits. Screenshots go to
``tests/artifacts/dashboard/`` (override with ``LABELAUDIT_SCREENSHOTS``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import SHOTS
from tests.service_fixtures import wait_for

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
N_IMAGES = 800


def upload_mnist(c: httpx.Client, tmp_path: Path) -> dict:
    from labelaudit.core.ingest import read_idx_array
    from tests.conftest import write_idx

    images_gz, labels_gz = SHARED / "mnist-test" / "t10k-images-idx3-ubyte.gz", SHARED / "mnist-test" / "t10k-labels-idx1-ubyte.gz"
    if not images_gz.exists():
        pytest.skip(f"reference data not found: {images_gz}")
    img = write_idx(tmp_path / "sub-images-idx3-ubyte.gz", read_idx_array(images_gz)[:N_IMAGES])
    lbl = write_idx(tmp_path / "sub-labels-idx1-ubyte.gz", read_idx_array(labels_gz)[:N_IMAGES])
    with open(img, "rb") as fi, open(lbl, "rb") as fl:
        r = c.post("/v1/datasets", files={"file": (img.name, fi), "labels_file": (lbl.name, fl)},
                   data={"name": f"mnist-{N_IMAGES}"})
    assert r.status_code == 201, r.text
    return r.json()


def all_images_loaded(page, selector: str) -> bool:
    return page.eval_on_selector_all(
        selector, "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)")


def test_dashboard_in_chromium(live_server, browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=live_server, timeout=60) as c:
        parent = upload_mnist(c, tmp_path)
        noisy = c.post(f"/v1/datasets/{parent['id']}/noise", json={"kind": "pairwise", "rate": 0.15, "seed": 1}).json()
        # small batches and a higher peak rate: enough optimiser steps for 533 training images in 6 short epochs
        cnn = {"backbone": "cnn", "epochs": 6, "folds": 3, "seed": 0, "backbone_options": {"batch_size": 32, "lr": 0.01}}
        child_audit = c.post("/v1/audits", json={"dataset_id": noisy["id"], **cnn}).json()["id"]
        parent_audit = c.post("/v1/audits", json={"dataset_id": parent["id"], "backbone": "logreg", "folds": 3}).json()["id"]

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # live progress: the page polls the API while the audit runs, then shows the results by itself
    page.goto(f"{live_server}/dashboard/audits/{child_audit}")
    page.wait_for_selector("#progress-section:not([hidden])", timeout=20_000)
    page.wait_for_function("document.getElementById('progress-text').textContent.includes('fold')", timeout=60_000)
    page.screenshot(path=str(SHOTS / "01-audit-running.png"))
    page.wait_for_selector("#results:not([hidden])", timeout=240_000)

    # summary, heatmap, charts, and the issue table with thumbnails
    page.wait_for_selector("#issues-table tbody tr[data-index]")
    assert page.locator("#summary-cards .stat").count() >= 6
    assert page.locator("#heatmap svg rect.cell").count() == 100
    assert page.locator("#class-chart svg rect.bar").count() == 10
    assert page.locator("#histogram svg rect.bar").count() == 40
    wait_for(lambda: all_images_loaded(page, "#issues-table img.thumb"), timeout=20)
    n_rows = page.locator("#issues-table tbody tr[data-index]").count()
    assert 0 < n_rows <= 50
    page.screenshot(path=str(SHOTS / "02-audit-done.png"), full_page=True)

    # filter by a class (all its examples, so there is a second page), then page forward
    page.select_option("#filter-flag", "")
    page.select_option("#filter-given", "7")
    page.wait_for_function("""() => { const rows = [...document.querySelectorAll('#issues-table tbody tr[data-index]')];
        return rows.length > 0 && rows.every(r => r.dataset.given === '7'); }""")
    info = page.inner_text("#page-info")
    assert info.startswith("rows 1–50 of "), info
    first_page_last_rank = int(page.locator("#issues-table tbody tr[data-index]").last.get_attribute("data-rank"))
    page.click("#next-page")
    page.wait_for_function("document.getElementById('page-info').textContent.startsWith('rows 51–')")
    ranks = [int(r) for r in page.eval_on_selector_all("#issues-table tbody tr[data-index]",
                                                         "rows => rows.map(r => r.dataset.rank)")]
    assert ranks and min(ranks) > first_page_last_rank and ranks == sorted(ranks)
    assert page.eval_on_selector_all("#issues-table tbody tr[data-index]",
                                     "rows => rows.every(r => r.dataset.given === '7')")
    wait_for(lambda: all_images_loaded(page, "#issues-table img.thumb"), timeout=20)
    page.locator("#browser").screenshot(path=str(SHOTS / "03-filtered-page-2.png"))

    # open one example: big image, labels, class probabilities
    row = page.locator("#issues-table tbody tr[data-index]").first
    index = row.get_attribute("data-index")
    row.click()
    page.wait_for_selector("#example-overlay:not([hidden])")
    assert page.inner_text("#example-title").startswith(f"Example {index}")
    wait_for(lambda: all_images_loaded(page, "#example-image"), timeout=20)
    assert page.eval_on_selector("#example-image", "i => i.naturalWidth") == 224
    assert page.inner_text("#example-body .given-label") == "7"
    assert page.locator("#example-body .probs .row").count() == 10
    page.keyboard.press("Escape")
    assert page.locator("#example-overlay").is_hidden()

    # and the most suspicious example of all: flagged, given and suggested labels differ
    page.click("#reset-filters")
    page.wait_for_function("document.getElementById('page-info').textContent.startsWith('rows 1–')")
    page.locator("#issues-table tbody tr[data-rank='0']").click()
    page.wait_for_selector("#example-overlay:not([hidden]) .badge.issue")
    wait_for(lambda: all_images_loaded(page, "#example-image"), timeout=20)
    assert page.inner_text("#example-body .given-label") != page.inner_text("#example-body .suggested-label")
    page.screenshot(path=str(SHOTS / "04-example.png"))
    page.keyboard.press("Escape")

    # the audits list and the compare view of the noisy copy against the original
    with httpx.Client(base_url=live_server, timeout=60) as c:
        wait_for(lambda: c.get(f"/v1/audits/{parent_audit}").json()["status"] == "done", timeout=240, interval=0.5)
    page.goto(f"{live_server}/dashboard")
    page.wait_for_selector(f"#audits-table tr[data-id='{parent_audit}'] [data-status='done']")
    page.wait_for_function("document.querySelector('#audits-table tbody').textContent.includes('(noisy pairwise')")
    assert page.locator("#audits-table tbody tr[data-id]").count() == 2
    page.screenshot(path=str(SHOTS / "05-audits-list.png"))
    page.goto(f"{live_server}/dashboard/compare?base={parent_audit}&other={child_audit}")
    page.wait_for_selector("#compare-results:not([hidden])")
    assert page.locator("#class-change svg rect.bar").count() == 10
    assert page.locator("#new-issues tbody tr").count() > 0
    wait_for(lambda: all_images_loaded(page, "#new-issues img.thumb"), timeout=20)
    page.screenshot(path=str(SHOTS / "06-compare.png"), full_page=True)
    assert not errors, errors

