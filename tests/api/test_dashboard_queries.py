"""Dashboard queries on SQLite and PostgreSQL: class table, matrices, histogram, issue browser filters,
example detail, image thumbnails, compare, audits list filters; bad input is 4xx naming the field."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import numpy as np
from PIL import Image
from sqlalchemy import update

from tests.service_fixtures import csv_bytes, npy_bytes, run_jobs, synthetic_pred_probs


def pred_probs_audit(client, app, n=600, k=5, seed=0) -> tuple[dict, dict]:
    P, y = synthetic_pred_probs(n, k=k, noise=0.08, seed=seed)
    ds = client.post("/v1/datasets", files={"file": ("p_pyx.npy", npy_bytes(P)),
                                            "labels_file": ("p_labels.npy", npy_bytes(y))}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    run_jobs(app)
    return ds, client.get(f"/v1/audits/{audit['id']}").json()


def all_rows(client, audit_id, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = client.get(f"/v1/audits/{audit_id}/issues",
                          params={"limit": 1000, **params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return rows


def assert_problem(r, status: int, field: str):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in r.json()["errors"]}, r.json()


def test_class_table_matrices_and_histogram(client, app):
    ds, audit = pred_probs_audit(client, app)
    aid, n = audit["id"], 600
    rows = all_rows(client, aid)
    classes = client.get(f"/v1/audits/{aid}/classes").json()["classes"]
    assert [c["class_id"] for c in classes] == list(range(5))
    for c in classes:
        mine = [r for r in rows if r["given_label"] == c["class_id"]]
        assert c["size"] == len(mine) and c["num_issues"] == sum(r["is_issue"] for r in mine)
        assert c["num_suggested"] == sum(r["suggested_label"] == c["class_id"] for r in rows)
        assert abs(c["issue_rate"] - c["num_issues"] / c["size"]) < 1e-12
        assert c["top_confused_with_id"] != c["class_id"]
    assert sum(c["num_issues"] for c in classes) == audit["summary"]["num_issues"]

    nm = client.get(f"/v1/audits/{aid}/noise_matrix").json()
    gvs = np.array(nm["given_vs_suggested"])
    assert gvs.shape == (5, 5) and gvs.sum() == n
    assert np.array(nm["issues_given_vs_suggested"]).sum() == audit["summary"]["num_issues"]
    assert gvs[1, 2] == sum(r["given_label"] == 1 and r["suggested_label"] == 2 for r in rows)
    assert np.array(nm["confident_joint"]).shape == (5, 5) and len(nm["noise_matrix"]) == 5

    h = client.get(f"/v1/audits/{aid}/histogram", params={"bins": 10}).json()
    assert h["bins"] == 10 and len(h["edges"]) == 11 and sum(h["counts"]) == n
    assert sum(h["issue_counts"]) == audit["summary"]["num_issues"]
    expected = np.histogram([r["quality_score"] for r in rows], bins=10, range=(0, 1))[0]
    assert np.abs(np.array(h["counts"]) - expected).sum() <= 2  # float edges may move a boundary value

    assert_problem(client.get(f"/v1/audits/{aid}/histogram", params={"bins": 7}), 422, "bins")
    assert_problem(client.get(f"/v1/audits/{aid}/histogram", params={"bins": 0}), 422, "bins")
    assert_problem(client.get("/v1/audits/au_nope/classes"), 404, "audit_id")
    queued = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    assert_problem(client.get(f"/v1/audits/{queued['id']}/noise_matrix"), 409, "audit_id")


def test_aggregates_are_backfilled_for_older_audits(client, app):
    from labelaudit.store.models import AuditRecord

    _, audit = pred_probs_audit(client, app, n=300)
    stored = client.get(f"/v1/audits/{audit['id']}/classes").json()
    hist = client.get(f"/v1/audits/{audit['id']}/histogram", params={"bins": 100}).json()
    with app.state.db.sessions.begin() as s:  # as if it finished before migration 0003
        s.execute(update(AuditRecord).where(AuditRecord.id == audit["id"]).values(aggregates=None, headline=None))
    again = client.get(f"/v1/audits/{audit['id']}/classes").json()
    assert [(c["size"], c["num_issues"], c["num_suggested"]) for c in again["classes"]] == \
        [(c["size"], c["num_issues"], c["num_suggested"]) for c in stored["classes"]]
    assert client.get(f"/v1/audits/{audit['id']}/histogram", params={"bins": 100}).json() == hist
    with app.state.db.sessions() as s:
        rec = s.get(AuditRecord, audit["id"])
        assert rec.aggregates is not None and rec.headline["num_issues"] == audit["summary"]["num_issues"]


def test_issue_browser_filters_sort_and_totals(client, app):
    _, audit = pred_probs_audit(client, app, n=800)
    aid = audit["id"]
    rows = all_rows(client, aid)
    url = f"/v1/audits/{aid}/issues"

    def brute(pred):
        return [r for r in rows if pred(r)]

    got = all_rows(client, aid, suggested_label=2)
    assert got == brute(lambda r: r["suggested_label"] == 2)
    got = all_rows(client, aid, given_label=1, suggested_label=3)
    assert got == brute(lambda r: r["given_label"] == 1 and r["suggested_label"] == 3)
    got = all_rows(client, aid, given_label=1, suggested_label=1)  # a diagonal cell
    assert got and got == brute(lambda r: r["given_label"] == 1 and r["suggested_label"] == 1)
    assert all_rows(client, aid, is_issue="false") == brute(lambda r: not r["is_issue"])
    got = all_rows(client, aid, min_score=0.2, max_score=0.7)
    assert got and got == brute(lambda r: 0.2 <= r["quality_score"] <= 0.7)
    got = all_rows(client, aid, min_score=0.5, given_label=0, is_issue="false")
    assert got == brute(lambda r: r["quality_score"] >= 0.5 and r["given_label"] == 0 and not r["is_issue"])
    assert all_rows(client, aid, sort="-score") == rows[::-1]
    exact = rows[10]["quality_score"]
    assert all_rows(client, aid, min_score=exact, max_score=exact) == brute(lambda r: r["quality_score"] == exact)

    # paging: filtered, descending, small pages, no gaps or repeats
    seen, cursor = [], None
    while True:
        page = client.get(url, params={"limit": 7, "given_label": 4, "sort": "-rank",
                                       **({"cursor": cursor} if cursor else {})}).json()
        seen += page["items"]
        assert page["total"] == len(brute(lambda r: r["given_label"] == 4))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == brute(lambda r: r["given_label"] == 4)[::-1]

    totals = {
        (): len(rows),
        (("given_label", 1), ("is_issue", "true")): len(brute(lambda r: r["given_label"] == 1 and r["is_issue"])),
        (("suggested_label", 0),): len(brute(lambda r: r["suggested_label"] == 0)),
        (("min_score", 0.9),): len(brute(lambda r: r["quality_score"] >= 0.9)),
        (("max_score", 0.1),): len(brute(lambda r: r["quality_score"] <= 0.1)),
    }
    for params, expected in totals.items():
        assert client.get(url, params={"limit": 5, **dict(params)}).json()["total"] == expected, params
    mixed = client.get(url, params={"min_score": 0.3, "given_label": 2}).json()
    assert mixed["total"] is None and mixed["items"]
    nothing = client.get(url, params={"min_score": 1.0, "max_score": 1.0}).json()
    assert nothing["total"] == len(brute(lambda r: r["quality_score"] == 1.0))

    assert_problem(client.get(url, params={"given_label": 5}), 422, "given_label")
    assert_problem(client.get(url, params={"suggested_label": 99}), 422, "suggested_label")
    assert_problem(client.get(url, params={"min_score": 0.8, "max_score": 0.2}), 422, "min_score")
    assert_problem(client.get(url, params={"min_score": 1.5}), 422, "min_score")
    assert_problem(client.get(url, params={"sort": "name"}), 422, "sort")
    assert_problem(client.get(url, params={"is_issue": "maybe"}), 422, "is_issue")


def test_example_detail_of_a_table(client, app):
    ds = client.post("/v1/datasets", files={"file": ("digits.csv", csv_bytes(200))}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 3}).json()
    run_jobs(app)
    P = np.load(io.BytesIO(client.get(f"/v1/audits/{audit['id']}/pred_probs").content))
    first = client.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 1}).json()["items"][0]
    r = client.get(f"/v1/audits/{audit['id']}/examples/{first['index']}")
    assert r.status_code == 200, r.text
    ex = r.json()
    assert ex["rank"] == 0 and ex["given_label"] == first["given_label"] and ex["modality"] == "tabular"
    assert np.allclose(ex["pred_probs"], P[first["index"]], atol=1e-6)
    assert ex["top_classes"][0]["class_id"] == int(P[first["index"]].argmax()) == ex["suggested_label"]
    from tests.service_fixtures import digits_arrays

    X = digits_arrays(200)[0]
    varied = [j for j in range(64) if np.unique(X[:, j]).size > 1]  # constant pixels are ignored columns
    assert ex["feature_names"] == [f"p{j}" for j in varied] and ex["image_url"] is None
    assert np.allclose(ex["features"], X[first["index"], varied])
    assert_problem(client.get(f"/v1/audits/{audit['id']}/examples/200"), 404, "index")
    assert_problem(client.get(f"/v1/audits/{audit['id']}/examples/-1"), 422, "index")
    assert_problem(client.get(f"/v1/datasets/{ds['id']}/examples/0/image"), 422, "dataset_id")


def test_image_thumbnails_are_png_and_cached(client, app):
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images[:150] * 16).astype(np.uint8)  # 8x8, 0..255
    buf = io.BytesIO()
    np.savez(buf, X=X, y=d.target[:150])
    ds = client.post("/v1/datasets", files={"file": ("digits.npz", buf.getvalue())}).json()
    assert ds["modality"] == "image"
    url = f"/v1/datasets/{ds['id']}/examples/7/image"
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (8, 8) and np.array_equal(np.asarray(img), X[7])
    big = client.get(url, params={"size": 64})
    assert Image.open(io.BytesIO(big.content)).size == (64, 64)
    etag = big.headers["etag"]
    assert "max-age" in big.headers["cache-control"] and etag != r.headers["etag"]
    again = client.get(url, params={"size": 64}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content

    audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 3}).json()
    run_jobs(app)
    ex = client.get(f"/v1/audits/{audit['id']}/examples/7").json()
    assert ex["image_url"] == f"/v1/datasets/{ds['id']}/examples/7/image" and ex["features"] is None
    assert ex["image_shape"] == [1, 8, 8]

    assert_problem(client.get(f"/v1/datasets/{ds['id']}/examples/150/image"), 404, "index")
    assert_problem(client.get(url, params={"size": 4096}), 422, "size")
    assert_problem(client.get("/v1/datasets/ds_nope/examples/0/image"), 404, "dataset_id")


def test_compare_parent_and_noisy_child(client, app):
    P, y = synthetic_pred_probs(500, k=5, noise=0.02, seed=1)
    parent = client.post("/v1/datasets", files={"file": ("p_pyx.npy", npy_bytes(P)),
                                                "labels_file": ("p_labels.npy", npy_bytes(y))}).json()
    child = client.post(f"/v1/datasets/{parent['id']}/noise", json={"rate": 0.2, "seed": 2}).json()
    a = client.post("/v1/audits", json={"dataset_id": parent["id"]}).json()["id"]
    b = client.post("/v1/audits", json={"dataset_id": child["id"]}).json()["id"]
    run_jobs(app)
    r = client.get(f"/v1/audits/{a}/compare/{b}", params={"limit": 10})
    assert r.status_code == 200, r.text
    cmp = r.json()
    assert cmp["matched_by"] == "index" and len(cmp["classes"]) == 5
    base_issues = {r["index"] for r in all_rows(client, a, is_issue="true")}
    other_issues = {r["index"] for r in all_rows(client, b, is_issue="true")}
    assert cmp["num_new"] == len(other_issues - base_issues) > 0
    assert cmp["num_gone"] == len(base_issues - other_issues)
    assert cmp["num_kept"] == len(base_issues & other_issues)
    assert len(cmp["new_issues"]) == min(10, cmp["num_new"])
    new = cmp["new_issues"][0]
    assert int(new["key"]) == new["other"]["index"] == new["base"]["index"] and new["other"]["index"] in other_issues
    ranks = [i["other"]["rank"] for i in cmp["new_issues"]]
    assert ranks == sorted(ranks)
    for c in cmp["classes"]:
        assert abs(c["issue_rate_change"] - (c["other_issue_rate"] - c["base_issue_rate"])) < 1e-12
    same = client.get(f"/v1/audits/{a}/compare/{a}").json()
    assert same["num_new"] == same["num_gone"] == 0

    # both lists page by cursor to the end: every new and every gone issue exactly once, in rank order
    for side, total in (("new", cmp["num_new"]), ("gone", cmp["num_gone"])):
        seen, cursor = [], None
        while True:
            page = client.get(f"/v1/audits/{a}/compare/{b}",
                              params={"limit": 7, **({f"{side}_cursor": cursor} if cursor else {})}).json()
            seen += page[f"{side}_issues"]
            cursor = page[f"{side}_next_cursor"]
            if cursor is None:
                break
        keys = [i["key"] for i in seen]
        assert len(keys) == len(set(keys)) == total
        owner = "other" if side == "new" else "base"
        assert [i[owner]["rank"] for i in seen] == sorted(i[owner]["rank"] for i in seen)
    assert_problem(client.get(f"/v1/audits/{a}/compare/{b}", params={"new_cursor": "x"}), 422, "new_cursor")

    unrelated, _ = pred_probs_audit(client, app, n=500, k=5, seed=9)
    other_audit = client.get("/v1/audits", params={"dataset_id": unrelated["id"]}).json()["items"][0]["id"]
    assert_problem(client.get(f"/v1/audits/{a}/compare/{other_audit}"), 422, "other_id")
    _, six = pred_probs_audit(client, app, n=300, k=6, seed=3)
    assert_problem(client.get(f"/v1/audits/{a}/compare/{six['id']}"), 422, "other_id")
    assert_problem(client.get(f"/v1/audits/{a}/compare/au_nope"), 404, "other_id")
    assert_problem(client.get(f"/v1/audits/{a}/compare/{b}", params={"limit": -1}), 422, "limit")


def test_compare_two_uploads_of_one_table_matches_by_content(client, app):
    ids = []
    for rows in (csv_bytes(200), csv_bytes(200)):
        ds = client.post("/v1/datasets", files={"file": ("digits.csv", rows)}).json()
        ids.append(client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg",
                                                   "folds": 3, "seed": len(ids)}).json()["id"])
    run_jobs(app)
    cmp = client.get(f"/v1/audits/{ids[0]}/compare/{ids[1]}").json()
    assert cmp["matched_by"] == "content"
    assert cmp["num_unmatched_base"] == cmp["num_unmatched_other"] == 0
    for item in cmp["new_issues"]:
        assert item["key"].startswith("sha:") and item["base"]["index"] == item["other"]["index"]


def test_audits_list_filters_and_headlines(client, app):
    _, done = pred_probs_audit(client, app, n=200)
    P, y = synthetic_pred_probs(100)
    ds = client.post("/v1/datasets", files={"file": ("q_pyx.npy", npy_bytes(P)),
                                            "labels_file": ("q_labels.npy", npy_bytes(y))}).json()
    queued = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    brief = client.get("/v1/audits", params={"view": "brief"}).json()["items"]
    assert [a["id"] for a in brief] == [queued["id"], done["id"]]
    h = brief[1]["headline"]
    assert brief[1]["summary"] is None and h["num_issues"] == done["summary"]["num_issues"]
    assert h["issue_rate"] == done["summary"]["issue_rate"] and h["health_score"] == done["summary"]["health_score"]
    assert h["duration_seconds"] > 0 and brief[0]["headline"] is None
    assert [a["id"] for a in client.get("/v1/audits", params={"status": "queued"}).json()["items"]] == [queued["id"]]
    assert [a["id"] for a in client.get("/v1/audits", params={"dataset_id": ds["id"]}).json()["items"]] == \
        [queued["id"]]
    now = datetime.now(timezone.utc)
    hour = timedelta(hours=1)
    assert len(client.get("/v1/audits", params={"created_after": (now - hour).isoformat()}).json()["items"]) == 2
    assert client.get("/v1/audits", params={"created_before": (now - hour).isoformat()}).json()["items"] == []
    assert client.get("/v1/audits", params={"created_after": (now + hour).isoformat()}).json()["items"] == []
    assert_problem(client.get("/v1/audits", params={"created_after": now.isoformat(),
                                                    "created_before": (now - hour).isoformat()}),
                   422, "created_after")
    assert_problem(client.get("/v1/audits", params={"created_after": "yesterday"}), 422, "created_after")
    assert_problem(client.get("/v1/audits", params={"view": "tiny"}), 422, "view")
