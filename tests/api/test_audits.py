"""/v1/audits on SQLite and PostgreSQL: queue, run, poll, page issues, downloads, cancel, errors."""

from __future__ import annotations

import io

import numpy as np

from tests.service_fixtures import csv_bytes, npy_bytes, run_jobs, synthetic_pred_probs


def make_dataset(client, n=300) -> dict:
    r = client.post("/v1/datasets", files={"file": ("digits.csv", csv_bytes(n))})
    assert r.status_code == 201, r.text
    return r.json()


def pred_probs_dataset(client, n=500) -> tuple[dict, np.ndarray, np.ndarray]:
    P, y = synthetic_pred_probs(n)
    r = client.post("/v1/datasets", files={"file": ("p_pyx.npy", npy_bytes(P)),
                                           "labels_file": ("p_labels.npy", npy_bytes(y))})
    assert r.status_code == 201, r.text
    return r.json(), P, y


def finished_audit(client, app, **body) -> dict:
    """Queue an audit of ``body``, run it, and return it done."""
    r = client.post("/v1/audits", json=body)
    assert r.status_code == 202, r.text
    assert run_jobs(app) == 1
    got = client.get(f"/v1/audits/{r.json()['id']}").json()
    assert got["status"] == "done", got
    return got


def test_audit_lifecycle_logreg(client, app):
    ds = make_dataset(client)
    noisy = client.post(f"/v1/datasets/{ds['id']}/noise", json={"rate": 0.1, "seed": 0}).json()
    r = client.post("/v1/audits", json={"dataset_id": noisy["id"], "backbone": "logreg", "folds": 3})
    assert r.status_code == 202, r.text
    audit = r.json()
    assert audit["status"] == "queued" and audit["progress"]["fraction"] == 0
    assert client.get(f"/v1/audits/{audit['id']}/issues").status_code == 409
    assert run_jobs(app) == 1
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "done", got
    assert got["progress"]["fraction"] == 1.0 and got["timings"]["total_seconds"] > 0
    assert got["timings"]["rows_seconds"] >= 0  # loading the rows, timed inside the transaction that stores them
    assert got["headline"]["duration_seconds"] == got["timings"]["worker_seconds"] + got["timings"]["rows_seconds"]
    assert got["summary"]["num_examples"] == 300 and got["evaluation"] is not None
    assert got["attempts"] == 1 and got["finished_at"]

    seen, cursor = [], None
    while True:
        page = client.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 128, "cursor": cursor}).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [r["rank"] for r in seen] == list(range(300))
    assert sorted(r["index"] for r in seen) == list(range(300))
    assert all(r["true_label"] is not None for r in seen)
    scores = [r["quality_score"] for r in seen]
    assert scores == sorted(scores)

    issues = client.get(f"/v1/audits/{audit['id']}/issues", params={"only_issues": True, "limit": 1000}).json()
    assert all(r["is_issue"] for r in issues["items"])
    assert len(issues["items"]) == got["summary"]["num_issues"]
    three = client.get(f"/v1/audits/{audit['id']}/issues", params={"given_label": 3, "max_score": 0.5}).json()
    assert all(r["given_label"] == 3 and r["quality_score"] <= 0.5 for r in three["items"])

    pp = client.get(f"/v1/audits/{audit['id']}/pred_probs")
    assert pp.status_code == 200
    P = np.load(io.BytesIO(pp.content))
    assert P.shape == (300, 10) and np.allclose(P.sum(axis=1), 1, atol=1e-4)

    csv = client.get(f"/v1/audits/{audit['id']}/export", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith('"rank","index"')
    assert len(csv.text.strip().splitlines()) == 301
    pq = client.get(f"/v1/audits/{audit['id']}/export", params={"format": "parquet"})
    import pyarrow.parquet as papq

    assert papq.read_table(io.BytesIO(pq.content)).num_rows == 300
    summary = client.get(f"/v1/audits/{audit['id']}/summary").json()
    assert summary["num_classes"] == 10 and summary == got["summary"]
    assert seen[0]["given_class"] == got["summary"]["class_names"][seen[0]["given_label"]]

    assert client.delete(f"/v1/datasets/{noisy['id']}").status_code == 204
    assert client.get(f"/v1/audits/{audit['id']}").status_code == 404


def test_pred_probs_audit_skips_training(client, app):
    ds, P, y = pred_probs_dataset(client)
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    run_jobs(app)
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "done" and got["summary"]["backbone"] is None
    assert 0 < got["summary"]["num_issues"] < 100
    pp = np.load(io.BytesIO(client.get(f"/v1/audits/{audit['id']}/pred_probs").content))
    assert np.allclose(pp, P, atol=1e-5)


def test_bad_audit_requests_are_422_with_fields(client):
    ds = make_dataset(client, 100)
    r = client.post("/v1/audits", json={"dataset_id": ds["id"], "folds": 1, "epochs": 0, "surprise": 1})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"folds", "epochs", "surprise"} <= fields
    r = client.post("/v1/audits", json={"dataset_id": ds["id"], "rank_method": "vibes"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rank_method"
    r = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "cnn"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "backbone"
    r = client.post("/v1/audits", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert client.post("/v1/audits", json={"dataset_id": "ds_missing"}).status_code == 404
    assert client.get("/v1/audits/au_missing").status_code == 404
    assert client.get("/v1/audits/au_missing/issues").status_code == 404
    r = client.get("/v1/audits/au_missing/issues", params={"cursor": "abc", "limit": 0})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"cursor", "limit"}
    assert client.get("/v1/audits").json()["items"] == []


def test_cancel_queued_and_delete(client, app):
    ds, _, _ = pred_probs_dataset(client, 100)
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    assert client.delete(f"/v1/datasets/{ds['id']}").status_code == 409
    r = client.post(f"/v1/audits/{audit['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert run_jobs(app) == 0
    assert client.delete(f"/v1/audits/{audit['id']}").status_code == 204
    assert client.get(f"/v1/audits/{audit['id']}").status_code == 404
    assert client.delete(f"/v1/datasets/{ds['id']}").status_code == 204


def test_health_ready_metrics_openapi(client, app):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    ds, _, _ = pred_probs_dataset(client, 100)
    client.post("/v1/audits", json={"dataset_id": ds["id"]})
    run_jobs(app)
    text = client.get("/metrics").text
    assert 'labelaudit_jobs{state="done"} 1.0' in text
    assert "labelaudit_job_duration_seconds_count 1.0" in text
    assert 'labelaudit_http_requests_total{method="POST",route="/v1/audits",status="202"} 1.0' in text
    spec = client.get("/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/v1/datasets"]["post"]["requestBody"]["content"]
    assert "Problem" in spec["components"]["schemas"]


def test_an_audit_whose_data_vanished_fails_with_an_error(client, app):
    ds, _, _ = pred_probs_dataset(client, 100)
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    for f in (app.state.settings.data_dir / "artifacts").rglob("*.npz"):
        f.unlink()
    run_jobs(app)
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "failed" and got["error"]["code"] == "internal_error"
    assert client.get(f"/v1/audits/{audit['id']}/pred_probs").status_code == 409
    assert client.post(f"/v1/audits/{audit['id']}/cancel").status_code == 409


def test_odd_inputs_are_4xx_never_500(client):
    ds = make_dataset(client, 100)
    cases = [
        ("post", f"/v1/datasets/{ds['id']}/noise", {"json": {"rate": "lots"}}),
        ("post", f"/v1/datasets/{ds['id']}/noise", {"json": {"kind": "matrix", "noise_matrix": [[0.5]]}}),
        ("post", f"/v1/datasets/{ds['id']}/noise", {"json": [1, 2, 3]}),
        ("post", "/v1/audits", {"json": {"dataset_id": ds["id"], "backbone": "nonexistent"}}),
        ("post", "/v1/audits", {"json": {"dataset_id": ds["id"], "folds": 20}}),
        ("post", "/v1/audits", {"json": {"dataset_id": ds["id"], "device": "tpu"}}),
        ("post", "/v1/audits", {"json": {"dataset_id": ds["id"], "backbone_options": {"bogus": 1}}}),
        ("post", "/v1/audits", {"json": {}}),
        ("post", "/v1/datasets", {"files": {"file": ("x.csv", b"label\n")}}),
        ("post", "/v1/datasets", {"files": {"file": ("x.csv", b"a,label\n1,2\n" * 5)}, "data": {"format": "xls"}}),
        ("post", "/v1/datasets", {"files": {"file": ("x.csv", b"a,b\n1,2\n" * 20)}, "data": {"label_column": "c"}}),
        ("post", "/v1/datasets", {"files": {"file": ("x-images-idx3-ubyte", b"\x00\x00\x08\x03" + b"\x00" * 12)}}),
        ("post", "/v1/datasets", {"content": b"--zz\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=zz"}}),
        ("get", "/v1/audits", {"params": {"status": "sleeping"}}),
        ("get", "/v1/datasets", {"params": {"limit": 100000}}),
    ]
    for method, url, kwargs in cases:
        r = getattr(client, method)(url, **kwargs)
        assert 400 <= r.status_code < 500, (url, kwargs, r.status_code, r.text)
        body = r.json()
        assert body["status"] == r.status_code and body["detail"] and "type" in body, body
    assert len(client.get("/v1/datasets").json()["items"]) == 1


def test_backbone_option_values_are_checked_before_queueing(client):
    """A value of the wrong type or out of range is a 422 naming the option; nothing is queued."""
    ds = make_dataset(client, 100)
    cases = [("mlp", {"hidden": "abc"}, "hidden"), ("mlp", {"hidden": 0}, "hidden"), ("mlp", {"lr": -1}, "lr"),
             ("mlp", {"dropout": 1.5}, "dropout"), ("mlp", {"loss": "mse"}, "loss"),
             ("mlp", {"batch_size": 2.5}, "batch_size"), ("logreg", {"C": 0}, "C"),
             ("logreg", {"max_iter": [1]}, "max_iter"), ("mlp", {"weights": 5}, "weights"),
             ("mlp", {"gce_q": None, "label_smoothing": 1}, "label_smoothing")]
    for backbone, opts, name in cases:
        r = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": backbone, "backbone_options": opts})
        assert r.status_code == 422, (opts, r.text)
        err = r.json()["errors"][0]
        assert (err["code"], err["field"]) == ("invalid_option", f"backbone_options.{name}"), (opts, err)
    assert client.get("/v1/audits").json()["items"] == []
    ok = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "mlp", "epochs": 1,
                                         "backbone_options": {"hidden": 16, "lr": 0.01, "loss": "ce", "dropout": 0}})
    assert ok.status_code == 202, ok.text


def test_every_backbone_option_has_a_checked_value():
    from labelaudit.core.backbones import BACKBONE_NAMES, get_backbone
    from labelaudit.core.backbones.options import BackboneOptionValues

    names = set().union(*(get_backbone(b).option_names for b in BACKBONE_NAMES[1:]))
    assert names <= set(BackboneOptionValues.model_fields), names - set(BackboneOptionValues.model_fields)


def test_api_callers_may_name_weights_only_inside_the_weights_folder(client, app, tmp_path, digits):
    import torch

    from labelaudit.core.backbones.resnet import ResNet

    X, y = digits
    buf = io.BytesIO()
    np.savez(buf, X=X[:200, None, :, :], y=y[:200])
    ds = client.post("/v1/datasets", files={"file": ("d.npz", buf.getvalue())}).json()
    secret = tmp_path / "outside.pt"
    torch.save(ResNet(1, 10, width=8).state_dict(), secret)

    def ask(weights):
        return client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "resnet",
                                               "backbone_options": {"width": 8, "weights": weights}})

    r = ask(str(secret))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "weights_disabled"
    app.state.settings.weights_dir = tmp_path / "weights"
    (tmp_path / "weights").mkdir()
    torch.save(ResNet(1, 10, width=8).state_dict(), tmp_path / "weights" / "r.pt")
    for bad, code in ((str(secret), "invalid_path"), ("../outside.pt", "invalid_path"), ("sub/../../outside.pt",
                      "invalid_path"), ("missing.pt", "not_found")):
        err = ask(bad).json()["errors"][0]
        assert (err["code"], err["field"]) == (code, "backbone_options.weights"), bad
        assert str(tmp_path) not in ask(bad).json()["detail"]  # no server paths in answers
    ok = ask("r.pt")
    assert ok.status_code == 202, ok.text
    assert ok.json()["options"]["backbone_options"]["weights"] == "r.pt"  # the name, never the server path


def test_exports_stream_every_row_in_blocks(client, app, monkeypatch):
    """CSV and Parquet exports, written block by block, hold exactly the rows the issue browser pages through."""
    import csv as csvlib

    import pyarrow.parquet as papq

    from labelaudit.api import exports

    ds, _, _ = pred_probs_dataset(client, n=500)
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    assert run_jobs(app) == 1
    rows, cursor = [], None
    while True:
        page = client.get(f"/v1/audits/{audit['id']}/issues",
                          params={"limit": 200, **({"cursor": cursor} if cursor else {})}).json()
        rows += page["items"]
        if not (cursor := page.get("next_cursor")):
            break
    assert [r["rank"] for r in rows] == list(range(500))
    monkeypatch.setattr(exports, "EXPORT_BLOCK_ROWS", 64)  # 8 blocks; the server is this process
    keys = ("rank", "index", "given_label", "suggested_label", "quality_score", "is_issue")

    got = client.get(f"/v1/audits/{audit['id']}/export", params={"format": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = list(csvlib.DictReader(io.StringIO(got.text)))
    assert len(lines) == 500 and lines[0].keys() >= {*keys, "given_class", "suggested_class"}
    for line, row in zip(lines, rows):
        assert [line[k] for k in keys[:4]] == [str(row[k]) for k in keys[:4]]
        assert float(line["quality_score"]) == row["quality_score"] and (line["is_issue"] == "true") == row["is_issue"]
        assert (line["given_class"], line["suggested_class"]) == (row["given_class"], row["suggested_class"])

    got = client.get(f"/v1/audits/{audit['id']}/export", params={"format": "parquet"})
    table = papq.read_table(io.BytesIO(got.content))
    assert table.num_rows == 500 and papq.ParquetFile(io.BytesIO(got.content)).num_row_groups == 8
    for k in keys + ("given_class", "suggested_class"):
        assert table.column(k).to_pylist() == [r[k] for r in rows], k


def test_the_same_rows_uploaded_in_another_order_get_the_same_audit(client, app):
    """Through the API too, folds and training order follow the examples' content, not their rows: every example
    gets the same score and flag whatever the order of the uploaded file."""
    header, *rows = csv_bytes(400).decode().splitlines()
    order = np.random.default_rng(7).permutation(len(rows))
    files = {"a.csv": "\n".join([header, *rows]), "b.csv": "\n".join([header, *(rows[i] for i in order)])}
    audits = {}
    for name, text in files.items():
        ds = client.post("/v1/datasets", files={"file": (name, text.encode())}).json()
        audits[name] = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 3,
                                                        "seed": 2}).json()["id"]
    run_jobs(app)

    def by_row(name):
        lines = files[name].splitlines()[1:]
        items = client.get(f"/v1/audits/{audits[name]}/issues", params={"limit": 1000}).json()["items"]
        return {lines[r["index"]]: (r["is_issue"], r["quality_score"], r["suggested_label"]) for r in items}

    a, b = by_row("a.csv"), by_row("b.csv")
    assert len(a) == 400 and a == b


def test_an_audit_with_an_ensemble_stores_it_and_reports_the_models_agreement(client, app):
    ds = make_dataset(client, 200)
    got = finished_audit(client, app, dataset_id=ds["id"], backbone="mlp", folds=2, epochs=1, ensemble=2)
    assert got["options"]["ensemble"] == 2
    ensemble = got["summary"]["ensemble"]
    assert ensemble["members"] == 2 and 0 < ensemble["agreement"] <= 1 and len(ensemble["member_cv_accuracy"]) == 2
    for bad in (0, 10, "two"):
        r = client.post("/v1/audits", json={"dataset_id": ds["id"], "ensemble": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ensemble", r.text


def test_an_audit_with_neighbours_stores_a_neighbour_score_per_row_in_pages_examples_and_exports(client, app):
    ds = make_dataset(client, 200)
    got = finished_audit(client, app, dataset_id=ds["id"], backbone="mlp", folds=2, epochs=2, neighbours=5)
    assert got["options"]["neighbours"] == 5
    near = got["summary"]["neighbours"]
    assert near["k"] == 5 and 0 <= near["disagreement_rate"] < 0.5
    items = client.get(f"/v1/audits/{got['id']}/issues", params={"limit": 200}).json()["items"]
    scores = [row["neighbour_score"] for row in items]
    assert len(scores) == 200 and all(0 < s < 1 for s in scores)
    assert np.mean(scores[:20]) < np.mean(scores[-20:])  # low quality goes with neighbours outvoting the label
    example = client.get(f"/v1/audits/{got['id']}/examples/{items[0]['index']}").json()
    assert example["neighbour_score"] == scores[0]
    import pyarrow.parquet as papq

    pq = client.get(f"/v1/audits/{got['id']}/export", params={"format": "parquet"})
    table = papq.read_table(io.BytesIO(pq.content)).to_pydict()
    assert table["neighbour_score"][:5] == scores[:5]

    plain = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 2}).json()
    run_jobs(app)
    page = client.get(f"/v1/audits/{plain['id']}/issues", params={"limit": 3}).json()["items"]
    assert [row["neighbour_score"] for row in page] == [None] * 3
    assert client.get(f"/v1/audits/{plain['id']}/summary").json()["neighbours"] is None
    for body in ({"neighbours": -1}, {"neighbours": 101}, {"neighbours": "five"},
                 {"neighbours": 5, "backbone": "logreg"}):
        r = client.post("/v1/audits", json={"dataset_id": ds["id"], **body})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "neighbours", (body, r.text)
