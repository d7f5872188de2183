"""End to end through a real server (uvicorn in a subprocess, real HTTP), on SQLite and PostgreSQL:
upload MNIST (IDX pair) and digits (CSV), inject noise, audit, poll, page, download; and the
published CIFAR-10 pred_probs with their known label errors."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.service_fixtures import csv_bytes, wait_for

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (see ../shared/datasets/README.md)")
    return path


def poll_done(c: httpx.Client, audit_id: str, timeout: float = 240) -> dict:
    seen_running = []

    def done():
        a = c.get(f"/v1/audits/{audit_id}").json()
        if a["status"] == "running":
            seen_running.append(a["progress"])
        assert a["status"] not in ("failed", "cancelled"), a
        return a if a["status"] == "done" else None

    return wait_for(done, timeout=timeout, interval=0.25)


def all_issues(c: httpx.Client, audit_id: str, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        q = {"limit": 250, **params, **({"cursor": cursor} if cursor else {})}
        page = c.get(f"/v1/audits/{audit_id}/issues", params=q)
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return rows


def test_mnist_and_digits_through_a_live_server(live_server, tmp_path):
    from labelaudit.core.ingest import read_idx_array
    from tests.conftest import write_idx

    mnist = SHARED / "mnist-test"
    images = read_idx_array(need(mnist / "t10k-images-idx3-ubyte.gz"))[:600]
    labels = read_idx_array(need(mnist / "t10k-labels-idx1-ubyte.gz"))[:600]
    img_path = write_idx(tmp_path / "sub-images-idx3-ubyte.gz", images)
    lbl_path = write_idx(tmp_path / "sub-labels-idx1-ubyte.gz", labels)

    with httpx.Client(base_url=live_server, timeout=60) as c:
        with open(img_path, "rb") as fi, open(lbl_path, "rb") as fl:
            r = c.post("/v1/datasets", files={"file": (img_path.name, fi), "labels_file": (lbl_path.name, fl)},
                       data={"name": "mnist-600"})
        assert r.status_code == 201, r.text
        ds = r.json()
        assert ds["rows"] == 600 and ds["modality"] == "image" and ds["format"] == "idx"
        noisy = c.post(f"/v1/datasets/{ds['id']}/noise", json={"kind": "pairwise", "rate": 0.1, "seed": 3}).json()
        r = c.post("/v1/audits", json={"dataset_id": noisy["id"], "backbone": "cnn", "epochs": 1, "folds": 2})
        assert r.status_code == 202, r.text
        mnist_audit = r.json()["id"]

        digits = c.post("/v1/datasets", files={"file": ("digits.csv", csv_bytes(400))}).json()
        noisy_digits = c.post(f"/v1/datasets/{digits['id']}/noise", json={"kind": "symmetric", "rate": 0.15}).json()
        digits_audit = c.post("/v1/audits", json={"dataset_id": noisy_digits["id"], "backbone": "logreg",
                                                  "folds": 3}).json()["id"]

        a = poll_done(c, mnist_audit)
        assert a["summary"]["backbone"] == "cnn" and a["timings"]["crossval_seconds"] > 0
        assert a["evaluation"] is not None
        rows = all_issues(c, mnist_audit)
        assert [r["rank"] for r in rows] == list(range(600))
        flipped = sum(r["true_label"] != r["given_label"] for r in rows)
        assert flipped == noisy["noise"]["num_flipped"] > 0
        P = np.load(io.BytesIO(c.get(f"/v1/audits/{mnist_audit}/pred_probs").content))
        assert P.shape == (600, 10)

        d = poll_done(c, digits_audit)
        issues = all_issues(c, digits_audit, only_issues="true")
        assert len(issues) == d["summary"]["num_issues"] > 0
        # most flagged examples really were flipped
        assert np.mean([r["true_label"] != r["given_label"] for r in issues]) > 0.5
        assert c.get(f"/v1/audits/{digits_audit}/export", params={"format": "parquet"}).status_code == 200
        metrics = c.get("/metrics").text
        assert 'labelaudit_jobs{state="done"} 2.0' in metrics


def test_bring_your_own_pred_probs_cifar10(live_server):
    le = SHARED / "label-errors"
    pyx = need(le / "cifar10_test_set_pyx.npy")
    lbl = need(le / "cifar10_test_set_original_labels.npy")
    with httpx.Client(base_url=live_server, timeout=60) as c, open(pyx, "rb") as fp, open(lbl, "rb") as fl:
        r = c.post("/v1/datasets", files={"file": (pyx.name, fp), "labels_file": (lbl.name, fl)})
        assert r.status_code == 201, r.text
        ds = r.json()
        assert ds["modality"] == "pred_probs" and ds["rows"] == 10_000 and ds["classes"] == 10
        audit = c.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
        a = poll_done(c, audit["id"], timeout=120)
        rate = a["summary"]["issue_rate"]
        assert 0.01 < rate < 0.06, rate
        first = c.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 50}).json()
        assert first["items"][0]["rank"] == 0 and all(r["is_issue"] for r in first["items"])
        assert len(all_issues(c, audit["id"], only_issues="true")) == a["summary"]["num_issues"]


def test_cli_remote_client_against_the_live_server(live_server, tmp_path):
    """The CLI's ``--server`` mode (labelaudit.check.remote) speaks this API: upload, audit, summary, all rows."""
    from labelaudit.core.pipeline import AuditOptions
    from labelaudit.check.remote import remote_audit

    path = tmp_path / "digits.csv"
    path.write_bytes(csv_bytes(300))
    seen = []
    out = remote_audit(
        live_server, api_key=None, path=path, dataset_id=None, labels=None, label_column="label", id_column=None,
        format=None, options=AuditOptions(backbone="logreg", folds=3), progress=seen.append)
    summary, rows = out.summary, out.rows
    assert summary["num_examples"] == 300 and "issue_rate" in summary and summary["classes"]
    assert len(rows) == 300 and [r["rank"] for r in rows] == list(range(300))
    assert all("example_key" in r for r in rows) and out.evaluation is None
    assert out.options["audit_id"].startswith("au_") and seen
    assert out.dataset["rows"] == 300 and out.dataset["id"] == out.options["dataset_id"]
