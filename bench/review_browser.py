"""Time per decision in the dashboard's review mode, keyboard only, in headless Chromium against a live server.

Starts ``labelaudit serve`` (SQLite, auth off, one embedded worker) in a subprocess,
uploads the first ``--rows`` scikit-learn digits with 20% pairwise noise injected,
audits them with logistic regression, opens the audit's page in Debian's Chromium
(Playwright) and presses ``--decisions`` keys (``K`` keep, ``A`` accept the suggestion, ``X``
exclude in turn), each timed from the key press until the row shows the stored
decision (the PUT answered) and the next row is selected. The baseline, in the same
process on the same page: one decision by mouse (the row's ``keep`` button), the
same number of times.

    .venv/bin/python bench/review_browser.py [--rows 1000] [--decisions 50]

About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, percentile  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def digits_csv(n: int) -> bytes:
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data[:n], d.target[:n]
    lines = [",".join([f"p{i}" for i in range(64)] + ["label"])]
    lines += [",".join([*(f"{v:g}" for v in row), str(lbl)]) for row, lbl in zip(X, y)]
    return ("\n".join(lines) + "\n").encode()


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    env.update({"LABELAUDIT_DATA_DIR": str(data_dir), "LABELAUDIT_WORKERS": "1", "LABELAUDIT_AUTH": "off",
                "LABELAUDIT_PORT": str(port), "LABELAUDIT_DEVICE": "cpu", "PYTHONPATH": str(ROOT)})
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "server.log", "ab")
    return subprocess.Popen([sys.executable, "-c", "from labelaudit.main import serve; serve()"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_until(fn, timeout: float = 120.0, interval: float = 0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit("timed out")


def main() -> None:
    import httpx
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--decisions", type=int, default=50)
    args = ap.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(Path(tempfile.mkdtemp(prefix="bench-review-ui-")) / "data", port)
    try:
        def up():
            try:
                return httpx.get(url + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=60, interval=0.2)
        with httpx.Client(base_url=url, timeout=60) as c:
            ds = c.post("/v1/datasets", files={"file": ("digits.csv", io.BytesIO(digits_csv(args.rows)))}).json()
            noisy = c.post(f"/v1/datasets/{ds['id']}/noise", json={"kind": "pairwise", "rate": 0.2, "seed": 0}).json()
            aid = c.post("/v1/audits", json={"dataset_id": noisy["id"], "backbone": "logreg", "folds": 3}).json()["id"]
            wait_until(lambda: c.get(f"/v1/audits/{aid}").json()["status"] == "done", interval=0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/dashboard/audits/{aid}")
            page.select_option("#filter-flag", "")  # every example, so there are pages enough
            page.select_option("#filter-limit", "100")
            wait_until(lambda: page.locator("#issues-table tbody tr[data-index] .decide").count() == 100)
            page.wait_for_selector("#issues-table tbody tr.selected .decide button.keep")

            def decided(n: int) -> bool:
                return page.evaluate(
                    "n => { const r = document.querySelectorAll('#issues-table tbody tr[data-index]');"
                    " const d = r[n] && r[n].querySelector('.decision'); return !!d && d.dataset.decision !== '' &&"
                    " (n + 1 >= r.length || r[n + 1].classList.contains('selected')); }", n)

            keys, times = "kax", []
            for n in range(args.decisions):
                start = time.perf_counter()
                page.keyboard.press(keys[n % 3])
                wait_until(lambda n=n: decided(n))
                times.append(time.perf_counter() - start)
            clicks = []
            rows = page.locator("#issues-table tbody tr[data-index]")
            for n in range(args.decisions, 2 * args.decisions):
                start = time.perf_counter()
                rows.nth(n).locator("button.keep").click()
                wait_until(lambda n=n: decided(n))
                clicks.append(time.perf_counter() - start)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(20)
    print("| mode | decisions | median ms | p95 ms | decisions per minute (UI bound) | vs baseline |")
    print("|---|---|---|---|---|---|")
    for name, xs in (("keyboard (K / A / X)", times), ("baseline: mouse, the row's keep button", clicks)):
        med = statistics.median(xs)
        ratio = f"{statistics.median(clicks) / med:.2f}x" if xs is times else "1.00x"
        print(f"| {name} | {len(xs)} | {med * 1000:.0f} | {percentile(xs, 0.95) * 1000:.0f} | {60 / med:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
