"""Review mode of the dashboard in real headless Chromium against a live server: one key per decision, moving to the
next example; the progress bar; the undecided / decided filter; the decision history on the example detail."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import SHOTS
from tests.service_fixtures import csv_bytes, wait_for

pytestmark = pytest.mark.slow


def decision_of(page, n: int) -> str:
    return page.eval_on_selector_all("#issues-table tbody tr[data-index] .decision",
                                     f"els => els[{n}] ? els[{n}].dataset.decision : null")


def test_keyboard_review_in_chromium(live_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=live_server, timeout=60) as c:
        ds = c.post("/v1/datasets", files={"file": ("digits.csv", csv_bytes(300))}).json()
        noisy = c.post(f"/v1/datasets/{ds['id']}/noise", json={"kind": "pairwise", "rate": 0.2, "seed": 1}).json()
        aid = c.post("/v1/audits", json={"dataset_id": noisy["id"], "backbone": "logreg", "folds": 3}).json()["id"]
        wait_for(lambda: c.get(f"/v1/audits/{aid}").json()["status"] == "done", timeout=120)
        num_issues = c.get(f"/v1/audits/{aid}").json()["summary"]["num_issues"]
    assert num_issues >= 12

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/dashboard/audits/{aid}")
    page.wait_for_selector("#issues-table tbody tr.selected .decide button.keep")
    rows = page.locator("#issues-table tbody tr[data-index]")
    first = rows.nth(0)
    suggested = first.locator(".suggested").inner_text()

    page.keyboard.press("a")  # accept the suggestion, move on
    wait_for(lambda: decision_of(page, 0) == "relabel", timeout=10)
    assert suggested in first.locator(".decision").inner_text()
    assert "selected" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("k")
    wait_for(lambda: decision_of(page, 1) == "keep", timeout=10)
    page.keyboard.press("x")
    wait_for(lambda: decision_of(page, 2) == "exclude", timeout=10)
    page.keyboard.press("3")  # relabel to class 3
    wait_for(lambda: decision_of(page, 3) == "relabel", timeout=10)
    assert "→ 3" in rows.nth(3).locator(".decision").inner_text()
    rows.nth(4).locator("button.keep").click()  # one click per decision too
    wait_for(lambda: decision_of(page, 4) == "keep", timeout=10)
    wait_for(lambda: "reviewed 5 of" in page.inner_text("#review-progress-text"), timeout=10)

    # keyboard only: time per decision over 6 more examples (each waits for the stored decision to show)
    start = time.perf_counter()
    for n in range(5, 11):
        page.keyboard.press("u")
        wait_for(lambda n=n: decision_of(page, n) == "unsure", timeout=10, interval=0.01)
    per_decision = (time.perf_counter() - start) / 6
    print(f"keyboard review: {per_decision * 1000:.0f} ms per decision")
    wait_for(lambda: "reviewed 11 of" in page.inner_text("#review-progress-text"), timeout=10)
    page.screenshot(path=str(SHOTS / "10-review-mode.png"), full_page=True)

    # undo the last one, then the decided / undecided filters
    page.keyboard.press("ArrowUp")
    page.keyboard.press("z")
    wait_for(lambda: "reviewed 10 of" in page.inner_text("#review-progress-text"), timeout=10)
    page.select_option("#filter-review", "decided")
    wait_for(lambda: page.locator("#issues-table tbody tr[data-index]").count() == 10, timeout=10)
    page.select_option("#filter-review", "undecided")
    wait_for(lambda: page.locator("#issues-table tbody tr[data-index] .decision[data-decision='']").count()
             == page.locator("#issues-table tbody tr[data-index]").count() > 0, timeout=10)

    # the example detail shows the decision history
    page.select_option("#filter-review", "decided")
    wait_for(lambda: page.locator("#issues-table tbody tr[data-index]").count() == 10, timeout=10)
    page.locator("#issues-table tbody tr[data-index]").nth(0).locator("td").nth(1).click()
    page.wait_for_selector("#example-history li")
    assert "local" in page.inner_text("#example-history")
    page.screenshot(path=str(SHOTS / "11-review-history.png"))
    page.keyboard.press("Escape")

    # the corrected dataset, audited with the same options; its page shows the lineage and links the compare
    page.click("#apply-review")
    page.wait_for_selector("#download-corrected")
    assert "2 relabelled, 1 excluded" in page.inner_text("#apply-result")
    page.click("#reaudit")
    page.wait_for_function(f"!location.href.endsWith({aid!r})")
    page.wait_for_selector("#lineage-audit")
    assert page.inner_text("#lineage-audit") == aid and "10 decisions applied" in page.inner_text("#audit-sub")
    page.wait_for_selector("#results:not([hidden])", timeout=120_000)
    page.click("#compare-before")
    page.wait_for_selector("#compare-results:not([hidden])", timeout=20_000)
    page.screenshot(path=str(SHOTS / "12-review-compare.png"), full_page=True)
    assert not errors, errors
