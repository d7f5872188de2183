"""No 500 from values (issue 20, finding 4 and 7), on SQLite and PostgreSQL: NaN and Infinity refused at the schema
naming the field; weights names checked for length and characters and never shown as server paths; ``device: cuda``
refused at request time on a host without CUDA; a database that refuses a write for lack of space answers 507,
stores nothing and turns /readyz to 503; a bad true label reported on ``true_label``; /metrics and /readyz
tell unauthenticated callers nothing about the deployment."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, func, select

from labelaudit.services.audits import cuda_available
from labelaudit.services.keys import create_api_key
from labelaudit.store.models import AuditRecord
from tests.api.test_audits import make_dataset, pred_probs_dataset
from tests.service_fixtures import run_jobs


def _post_raw(client, path: str, text: str):
    return client.post(path, content=text, headers={"content-type": "application/json"})


def _error(r, status: int = 422) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()["errors"][0]


def test_non_finite_numbers_are_refused_at_the_schema(client):
    ds, _, _ = pred_probs_dataset(client, 100)
    for value in ("Infinity", "-Infinity", "NaN"):
        r = _post_raw(client, "/v1/audits", f'{{"dataset_id": "{ds["id"]}", "backbone": "logreg", '
                                            f'"backbone_options": {{"C": {value}}}}}')
        err = _error(r)
        assert err["field"] == "backbone_options" and "backbone_options.C" in err["message"], err
        nested = _post_raw(client, "/v1/audits", f'{{"dataset_id": "{ds["id"]}", '
                                                 f'"backbone_options": {{"hidden": [8, {value}]}}}}')
        assert "backbone_options.hidden.1" in _error(nested)["message"]
        noise = _post_raw(client, f"/v1/datasets/{ds['id']}/noise",
                          f'{{"kind": "matrix", "noise_matrix": [[0.5, {value}], [0.5, 0.5]]}}')
        assert _error(noise)["field"].startswith("noise_matrix")
    with client.app.state.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord)) == 0


def test_weights_names_are_checked_and_never_shown_as_server_paths(client, app, tmp_path):
    torch = pytest.importorskip("torch")
    from labelaudit.core.backbones.resnet import ResNet

    ds = make_dataset(client, 120)
    app.state.settings.weights_dir = tmp_path / "weights"
    (tmp_path / "weights" / "sub").mkdir(parents=True)
    torch.save(ResNet(1, 10, width=8).state_dict(), tmp_path / "weights" / "sub" / "r.pt")

    def ask(weights):
        return client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "mlp",
                                               "backbone_options": {"weights": weights}})

    for bad in ("a\x00b.pt", "x" * 5000, "a\nb.pt", "sub//r.pt", "./r.pt", "-", "~/r.pt", "r.pt ", "\u202e.pt"):
        err = _error(ask(bad))
        assert (err["field"], err["code"]) == ("backbone_options.weights", "invalid_path"), (bad, err)
        assert str(tmp_path) not in json.dumps(err)
    err = _error(ask("sub/missing.pt"))
    assert err["code"] == "not_found" and str(tmp_path) not in err["message"]


def test_accepted_weights_are_stored_by_name(client, app, tmp_path):
    torch = pytest.importorskip("torch")
    import io

    import numpy as np

    from labelaudit.core.backbones.resnet import ResNet

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(buf, X=rng.random((60, 1, 8, 8), dtype=np.float32), y=np.arange(60) % 3)
    ds = client.post("/v1/datasets", files={"file": ("d.npz", buf.getvalue())}).json()
    app.state.settings.weights_dir = tmp_path / "weights"
    (tmp_path / "weights").mkdir()
    torch.save(ResNet(1, 3, width=8).state_dict(), tmp_path / "weights" / "r.pt")
    ok = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "resnet", "folds": 2, "epochs": 1,
                                         "device": "cpu", "backbone_options": {"width": 8, "weights": "r.pt"}})
    assert ok.status_code == 202, ok.text
    assert ok.json()["options"]["backbone_options"]["weights"] == "r.pt"
    assert str(tmp_path) not in ok.text
    assert run_jobs(app) == 1  # the worker finds the file by its name in the weights folder
    done = client.get(f"/v1/audits/{ok.json()['id']}").json()
    assert done["status"] == "done", done["error"]


def test_cuda_is_refused_at_request_time_without_a_gpu(client, app):
    if cuda_available():
        pytest.skip("this host has CUDA: device cuda is accepted here")
    ds, _, _ = pred_probs_dataset(client, 100)
    for device in ("cuda", "cuda:0"):
        err = _error(client.post("/v1/audits", json={"dataset_id": ds["id"], "device": device}))
        assert (err["field"], err["code"]) == ("device", "no_cuda"), err
    app.state.settings.cuda_audits = "on"  # separate GPU workers: the API takes it
    assert client.post("/v1/audits", json={"dataset_id": ds["id"], "device": "cuda"}).status_code == 202


def test_a_true_label_no_label_has_is_reported_on_true_label(client):
    rows = ["a,b,label,true_label"] + [f"{i},{i % 3},{i % 2},{'cat' if i == 5 else i % 2}" for i in range(40)]
    err = _error(client.post("/v1/datasets", files={"file": ("t.csv", "\n".join(rows).encode())}))
    assert (err["field"], err["code"]) == ("true_label", "unknown_class"), err


def test_a_database_out_of_space_is_507_and_readyz_503(client, app, backend):
    """SQLite really refusing pages (``PRAGMA max_page_count`` pinned to the file's size): the audit that needs a
    new page is a 507 ``insufficient_storage`` and is not stored; /readyz is 503 until the hold passes."""
    if backend != "sqlite":
        pytest.skip("the database is made to run out of space with a SQLite pragma")
    settings, engine = app.state.settings, app.state.db.engine
    settings.max_active_jobs_per_tenant = 10_000
    settings.storage_error_seconds = 1.0
    ds, _, _ = pred_probs_dataset(client, 100)

    def pin(dbapi_conn, _record):
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    event.listen(engine, "connect", pin)
    engine.dispose()
    try:
        answers = []
        for _ in range(300):
            r = client.post("/v1/audits", json={"dataset_id": ds["id"]})
            answers.append(r.status_code)
            if r.status_code != 202:
                break
        assert answers[-1] == 507 and set(answers[:-1]) <= {202}, answers
        assert _error(r, 507)["code"] == "insufficient_storage"
        assert client.get("/readyz").status_code == 503
    finally:
        event.remove(engine, "connect", pin)
        engine.dispose()
    with app.state.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord)) == len(answers) - 1
    import time

    time.sleep(1.1)
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/audits", json={"dataset_id": ds["id"]}).status_code == 202


def test_metrics_and_readyz_tell_strangers_nothing(client, app):
    app.state.settings.auth = "on"
    key = create_api_key(app.state.db, "ops")[1]
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/readyz", headers=bearer).json()["database"] in ("sqlite", "postgresql")
    assert _error(client.get("/metrics"), 401)["code"] == "unauthorized"
    assert client.get("/metrics", headers={"Authorization": "Bearer la_wrong"}).status_code == 401
    assert "labelaudit_http_requests_total" in client.get("/metrics", headers=bearer).text
    app.state.settings.metrics_token = "scrape-token-0123456789"
    assert client.get("/metrics", headers=bearer).status_code == 401  # the token, once set, is the only way
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert ok.status_code == 200 and "labelaudit_jobs" in ok.text


def test_postgres_storage_failures_are_recognised_by_sqlstate():
    """PostgreSQL's own error classes (disk full, I/O error) count as storage failures, a constraint violation not."""
    errors = pytest.importorskip("psycopg.errors")
    from sqlalchemy.exc import OperationalError

    from labelaudit.errors import is_storage_full

    assert is_storage_full(errors.DiskFull("could not extend file"))
    assert is_storage_full(OperationalError("INSERT", {}, errors.IoError("read only")))
    assert not is_storage_full(errors.UniqueViolation("dup"))
    assert not is_storage_full(ValueError("x"))
