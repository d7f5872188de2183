"""/v1/datasets on SQLite and PostgreSQL: upload, list, read, noise, delete, errors."""

from __future__ import annotations

import numpy as np

from tests.service_fixtures import csv_bytes, npy_bytes, synthetic_pred_probs


def upload(client, content: bytes, filename: str = "digits.csv", **fields):
    return client.post("/v1/datasets", files={"file": (filename, content)}, data=fields)


def test_upload_csv_returns_201_with_metadata(client):
    r = upload(client, csv_bytes(200), name="digits")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "digits" and body["rows"] == 200 and body["classes"] == 10
    assert body["modality"] == "tabular" and body["format"] == "csv" and len(body["sha256"]) == 64
    assert body["id"].startswith("ds_")
    got = client.get(f"/v1/datasets/{body['id']}").json()
    assert got["sha256"] == body["sha256"]


def test_upload_pred_probs_pair(client):
    P, y = synthetic_pred_probs(300)
    r = client.post("/v1/datasets", files={"file": ("x_pyx.npy", npy_bytes(P)),
                                           "labels_file": ("x_labels.npy", npy_bytes(y))})
    assert r.status_code == 201, r.text
    assert r.json()["modality"] == "pred_probs" and r.json()["classes"] == 5


def test_list_is_cursor_paged(client):
    ids = [upload(client, csv_bytes(60), name=f"d{i}").json()["id"] for i in range(3)]
    page1 = client.get("/v1/datasets", params={"limit": 2}).json()
    assert [d["id"] for d in page1["items"]] == ids[::-1][:2] and page1["next_cursor"]
    page2 = client.get("/v1/datasets", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [d["id"] for d in page2["items"]] == [ids[0]] and page2["next_cursor"] is None


def test_noise_derives_a_dataset_with_true_labels(client):
    parent = upload(client, csv_bytes(200)).json()
    r = client.post(f"/v1/datasets/{parent['id']}/noise", json={"kind": "symmetric", "rate": 0.2, "seed": 1})
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["parent_id"] == parent["id"] and child["has_true_labels"]
    nm = np.array(child["noise"]["noise_matrix"])
    assert nm.shape == (10, 10) and np.allclose(nm.sum(axis=0), 1)
    assert 0.1 < child["noise"]["num_flipped"] / 200 < 0.3


def test_instance_noise_is_judged_by_a_quick_model(client):
    parent = upload(client, csv_bytes(200)).json()
    r = client.post(f"/v1/datasets/{parent['id']}/noise", json={"kind": "instance", "rate": 0.1, "seed": 2})
    assert r.status_code == 201, r.text
    noise = r.json()["noise"]
    assert noise["kind"] == "instance" and noise["num_flipped"] == sum(
        round(0.1 * n) for n in np.bincount([int(line.rsplit(b",", 1)[1]) for line in csv_bytes(200).splitlines()[1:]]))
    again = client.post(f"/v1/datasets/{parent['id']}/noise", json={"kind": "instance", "rate": 0.1, "seed": 2})
    assert again.json()["noise"]["noise_matrix"] == noise["noise_matrix"]  # seeded, model included


def test_noise_bad_options_are_422_with_fields(client):
    parent = upload(client, csv_bytes(100)).json()
    r = client.post(f"/v1/datasets/{parent['id']}/noise", json={"kind": "weird", "rate": 2})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"kind", "rate"} <= fields
    r = client.post(f"/v1/datasets/{parent['id']}/noise", json={"kind": "matrix", "noise_matrix": [[1, 0], [0, 1]]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "noise_matrix"


def test_bad_uploads_are_4xx_and_leave_nothing(client, app):
    data_dir = app.state.settings.data_dir
    r = upload(client, b"\x00\x01garbage\xff" * 10, filename="x.bin")
    assert r.status_code == 415, r.text
    assert r.json()["status"] == 415 and r.json()["errors"]
    r = upload(client, b"a,b,label\n1,2,x\n", filename="tiny.csv")
    assert r.status_code == 422 and r.json()["errors"][0]["code"]
    r = client.post("/v1/datasets", data={"name": "no file"}, files={"other": ("a.txt", b"1")})
    assert r.status_code == 422
    r = client.post("/v1/datasets", json={"name": "not multipart"})
    assert r.status_code == 415
    assert client.get("/v1/datasets").json()["items"] == []
    assert not [p for p in (data_dir / "artifacts").rglob("*") if p.is_file()]
    assert not any((data_dir / "tmp").iterdir())


def test_too_large_upload_is_413(app, client):
    app.state.settings.max_upload_bytes = 1000
    r = upload(client, csv_bytes(200))
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "file"
    assert client.get("/v1/datasets").json()["items"] == []


def test_unknown_dataset_is_404_problem(client):
    r = client.get("/v1/datasets/ds_nope")
    assert r.status_code == 404 and r.json()["type"].endswith("not_found")
    assert client.delete("/v1/datasets/ds_nope").status_code == 404
    assert client.post("/v1/datasets/ds_nope/noise", json={}).status_code == 404


def test_delete_removes_record_and_artifact(client, app):
    ds = upload(client, csv_bytes(100)).json()
    files = [p for p in (app.state.settings.data_dir / "artifacts").rglob("*.npz")]
    assert len(files) == 1
    assert client.delete(f"/v1/datasets/{ds['id']}").status_code == 204
    assert client.get(f"/v1/datasets/{ds['id']}").status_code == 404
    assert not files[0].exists()


def test_chunked_upload_over_the_limit_is_413_while_streaming(app, client):
    app.state.settings.max_upload_bytes = 20_000
    body = csv_bytes(400)
    boundary = "xBOUNDARYx"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()

    def chunks():  # no Content-Length: the server must count while reading
        yield head
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/v1/datasets", content=chunks(),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413, r.text
    assert client.get("/v1/datasets").json()["items"] == []
    assert not any((app.state.settings.data_dir / "tmp").iterdir())
