"""The hostile-upload corpus over real HTTP, against a real server on SQLite and on PostgreSQL.

Each bad upload gets its own specific 4xx: the exact status, a problem+json body
whose first error has the expected ``code`` and ``field``; no dataset record is
created and no file is left in the upload temp folder or the artifact store.
"""

from __future__ import annotations

import httpx
import numpy as np
import pyarrow as pa
import pytest

from tests.hostile.corpus import CORPUS, BadUpload, csv_bytes, idx_pair, image_members, npy_bytes, npz_bytes, \
    parquet_bytes, pred_probs, zip_bytes


def post(http: httpx.Client, entry: BadUpload) -> httpx.Response:
    if entry.raw is not None:
        body, content_type = entry.raw
        content = (body[i:i + 65536] for i in range(0, len(body), 65536)) if entry.chunked else body
        return http.post("/v1/datasets", content=content, headers={"content-type": content_type})
    return http.post("/v1/datasets", files=entry.files, data=entry.form)


def dataset_ids(http: httpx.Client) -> list[str]:
    r = http.get("/v1/datasets", params={"limit": 200})
    assert r.status_code == 200, r.text
    return [d["id"] for d in r.json()["items"]]


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.id)
def test_bad_upload_gets_its_specific_4xx(hostile_server, http, entry: BadUpload):
    r = post(http, entry)
    assert r.status_code == entry.status, f"{r.status_code} {r.text[:500]}\n{hostile_server.log_tail(2000)}"
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == entry.status and body["type"].endswith("/" + entry.code), body
    first = body["errors"][0]
    assert (first["code"], first["field"]) == (entry.code, entry.field), body
    assert first["message"] and body["detail"]
    assert dataset_ids(http) == []
    assert hostile_server.leftovers() == []


def _valid_uploads() -> dict[str, dict]:
    P, y = pred_probs()
    images, labels = idx_pair()
    return {
        "csv": {"file": ("d.csv", csv_bytes())},
        "parquet": {"file": ("d.parquet", parquet_bytes(pa.table({"f0": np.arange(40.0),
                                                                   "label": np.arange(40) % 2})))},
        "npz": {"file": ("d.npz", npz_bytes(X=np.random.default_rng(0).normal(size=(40, 3)), y=np.arange(40) % 2))},
        "idx": {"file": ("x-images-idx3-ubyte", images), "labels_file": ("x-labels-idx1-ubyte", labels)},
        "pred-probs": {"file": ("x_pyx.npy", npy_bytes(P)), "labels_file": ("x_labels.npy", npy_bytes(y))},
        "image-zip": {"file": ("d.zip", zip_bytes(image_members(per_class=20)))},
    }


@pytest.mark.parametrize("kind", list(_valid_uploads()))
def test_the_valid_originals_are_accepted(hostile_server, http, kind):
    """The corpus is made from these; they must pass, so the rejections above are the corruption's doing."""
    r = http.post("/v1/datasets", files=_valid_uploads()[kind])
    assert r.status_code == 201, r.text
    assert r.json()["format"] == kind and r.json()["rows"] == 40
    assert http.delete(f"/v1/datasets/{r.json()['id']}").status_code == 204
    assert dataset_ids(http) == [] and hostile_server.leftovers() == []
