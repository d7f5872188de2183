"""Review decisions through the API on SQLite and PostgreSQL: decide, undo, history, conflicts, bulk, carry-over to a
reordered upload, apply to a corrected dataset, download it, re-audit it and compare."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.csv as pacsv
import pytest

from tests.service_fixtures import csv_bytes, run_jobs


def assert_problem(r, status: int, field: str, code: str | None = None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errs = r.json()["errors"]
    assert field in {e["field"] for e in errs}, r.json()
    if code:
        assert code in {e["code"] for e in errs}, r.json()


def audit_of(client, app, dataset_id: str) -> dict:
    r = client.post("/v1/audits", json={"dataset_id": dataset_id, "backbone": "logreg", "folds": 3})
    assert r.status_code == 202, r.text
    run_jobs(app)
    audit = client.get(f"/v1/audits/{r.json()['id']}").json()
    assert audit["status"] == "done", audit
    return audit


@pytest.fixture
def noisy_audit(client, app):
    """A logreg audit of 300 digits with 15% pairwise noise (the noisy copy knows the true labels)."""
    ds = client.post("/v1/datasets", files={"file": ("digits.csv", csv_bytes(300))}).json()
    noisy = client.post(f"/v1/datasets/{ds['id']}/noise", json={"kind": "pairwise", "rate": 0.15, "seed": 3}).json()
    return ds, noisy, audit_of(client, app, noisy["id"])


def issues(client, audit_id: str) -> list[dict]:
    return client.get(f"/v1/audits/{audit_id}/issues", params={"only_issues": True, "limit": 1000}).json()["items"]


def test_decide_undo_history_and_conflicts(client, noisy_audit):
    _, _, audit = noisy_audit
    aid = audit["id"]
    flagged = issues(client, aid)
    assert len(flagged) >= 10
    first, second = flagged[0], flagged[1]
    r = client.put(f"/v1/audits/{aid}/decisions", json={"items": [
        {"index": first["index"], "decision": "relabel"},  # accept the suggestion
        {"index": second["index"], "decision": "keep", "note": "looks right"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] == 2 and body["unchanged"] == 0
    got = {i["index"]: i for i in body["items"]}
    assert got[first["index"]]["label"] == first["suggested_class"] and got[first["index"]]["version"] == 1
    assert got[second["index"]]["decided_by"] == "local" and got[second["index"]]["note"] == "looks right"
    # idempotent: the same request again changes nothing
    again = client.put(f"/v1/audits/{aid}/decisions", json={"items": [
        {"index": first["index"], "decision": "relabel"}, {"index": second["index"], "decision": "keep",
                                                          "note": "looks right"}]}).json()
    assert again["changed"] == 0 and again["unchanged"] == 2
    key = got[first["index"]]["key"]
    # a stale version is refused (409) and changes nothing; the current one is accepted
    stale = client.put(f"/v1/audits/{aid}/decisions", json={"items": [
        {"key": key, "decision": "exclude", "version": 0}]})
    assert_problem(stale, 409, "items.0.version", "stale_version")
    ok = client.put(f"/v1/audits/{aid}/decisions", json={"items": [{"key": key, "decision": "exclude", "version": 1}]})
    assert ok.status_code == 200 and ok.json()["items"][0]["version"] == 2
    # last write wins without a version
    client.put(f"/v1/audits/{aid}/decisions", json={"items": [{"key": key, "decision": "unsure"}]})
    undo = client.request("DELETE", f"/v1/audits/{aid}/decisions", json={"items": [{"key": key}]})
    assert undo.status_code == 200 and undo.json()["changed"] == 1
    hist = client.get(f"/v1/audits/{aid}/decisions/history", params={"key": key}).json()
    assert [(e["version"], e["decision"]) for e in hist["events"]] == [
        (1, "relabel"), (2, "exclude"), (3, "unsure"), (4, None)]
    assert hist["index"] == first["index"]

    page = client.get(f"/v1/audits/{aid}/decisions").json()
    assert [i["index"] for i in page["items"]] == [second["index"]]
    p = page["progress"]
    assert (p["reviewed"], p["kept"], p["relabelled"], p["num_issues"]) == (1, 1, 0, len(flagged))
    assert p["agreement"] == 0.0  # kept the given label, which the audit did not suggest
    undecided = client.get(f"/v1/audits/{aid}/decisions", params={"state": "undecided", "is_issue": True}).json()
    assert undecided["total"] == len(flagged) - 1

    # bad input names the field
    bad = f"/v1/audits/{aid}/decisions"
    assert_problem(client.put(bad, json={"items": [{"index": 0, "decision": "relabel", "label": "nope"}]}),
                   422, "items.0.label", "unknown_class")
    assert_problem(client.put(bad, json={"items": [{"index": 0, "decision": "maybe"}]}), 422, "items.0.decision")
    assert_problem(client.put(bad, json={"items": [{"index": 10**6, "decision": "keep"}]}), 422, "items.0.index",
                   "unknown_example")
    assert_problem(client.put(bad, json={"items": [{"key": "sha:nope", "decision": "keep"}]}), 422, "items.0.key",
                   "unknown_example")
    assert_problem(client.put(bad, json={"items": [{"index": 0, "decision": "keep", "label": "3"}]}), 422,
                   "items.0.label", "unexpected_label")
    assert_problem(client.put(bad, json={"filter": {"given_label": "zebra"}, "decision": "keep"}), 422,
                   "filter.given_label", "unknown_class")
    assert_problem(client.put("/v1/audits/au_nope/decisions", json={"items": []}), 404, "audit_id")


def test_filter_decisions_apply_download_reaudit_and_compare(client, app, noisy_audit):
    _, noisy, audit = noisy_audit
    aid = audit["id"]
    before = audit["summary"]["issue_rate"]
    # accept every flagged example's suggestion in one request (the issue browser's filter)
    r = client.put(f"/v1/audits/{aid}/decisions", json={"filter": {"is_issue": True}, "decision": "relabel"})
    assert r.status_code == 200 and r.json()["changed"] == audit["summary"]["num_issues"]
    # and exclude the two lowest-ranked examples the audit did not flag
    calm = client.get(f"/v1/audits/{aid}/issues", params={"is_issue": False, "limit": 2}).json()["items"]
    client.put(f"/v1/audits/{aid}/decisions", json={"items": [{"index": c["index"], "decision": "exclude"}
                                                              for c in calm]})
    progress = client.get(f"/v1/audits/{aid}/decisions").json()["progress"]
    assert progress["relabelled"] == audit["summary"]["num_issues"] and progress["excluded"] == 2
    assert progress["agreement"] == 1.0

    r = client.post(f"/v1/audits/{aid}/apply", json={"name": "digits reviewed"})
    assert r.status_code == 201, r.text
    fixed = r.json()
    assert fixed["parent_id"] == noisy["id"] and fixed["rows"] == noisy["rows"] - 2
    assert fixed["review"]["audit_id"] == aid and fixed["review"]["decisions_applied"] == progress["reviewed"]
    assert fixed["review"]["relabelled"] == progress["relabelled"]

    csv = client.get(f"/v1/datasets/{fixed['id']}/download")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    table = pacsv.read_csv(io.BytesIO(csv.content)).to_pydict()
    assert len(table["label"]) == fixed["rows"]
    changed = [str(o) != str(lbl) for o, lbl in zip(table["original_label"], table["label"])]
    assert sum(changed) <= progress["relabelled"] and set(table["review_decision"]) <= {"relabel", None, ""}
    for fmt in ("parquet", "npz"):
        assert client.get(f"/v1/datasets/{fixed['id']}/download", params={"format": fmt}).status_code == 200

    # the downloaded file uploads and audits like any other; the corrected record audits directly too
    again = client.post("/v1/datasets", files={"file": ("fixed.csv", csv.content)}).json()
    assert again["rows"] == fixed["rows"]
    re_audit = audit_of(client, app, fixed["id"])
    assert re_audit["summary"]["issue_rate"] < before
    cmp = client.get(f"/v1/audits/{aid}/compare/{re_audit['id']}").json()
    assert cmp["issue_rate_change"] < 0 and cmp["num_gone"] > 0
    # per class: where the relabels took examples from, the issues dropped
    relabelled = client.get(f"/v1/audits/{aid}/decisions", params={"decision": "relabel", "limit": 1000}).json()
    touched = {i["given_class"] for i in relabelled["items"]}
    rows = [c for c in cmp["classes"] if c["class_name"] in touched]
    assert sum(c["other_issues"] for c in rows) < sum(c["base_issues"] for c in rows)
    # the injected errors the relabels fixed: fewer given labels differ from the true ones
    assert fixed["has_true_labels"]
    wrong_after = sum(str(g) != str(t) for g, t in zip(table["label"], table["true_label"]))
    assert wrong_after < noisy["noise"]["num_flipped"] * 0.6, (wrong_after, noisy["noise"]["num_flipped"])
    # decisions carry over: the re-audit shows the same decisions on the rows it kept
    carried = client.get(f"/v1/audits/{re_audit['id']}/decisions", params={"limit": 1000}).json()
    assert carried["progress"]["relabelled"] == progress["relabelled"]
    assert carried["progress"]["excluded"] == 0  # excluded rows are not in the corrected data


def test_bulk_decisions_of_10000_examples_in_one_request(client, app):
    from tests.service_fixtures import npy_bytes, synthetic_pred_probs

    P, y = synthetic_pred_probs(10_000, k=4, noise=0.05, seed=1)
    ds = client.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(P)), "labels_file": ("y.npy", npy_bytes(y))})
    audit = client.post("/v1/audits", json={"dataset_id": ds.json()["id"]}).json()
    run_jobs(app)
    aid = audit["id"]
    items = [{"index": i, "decision": "keep" if i % 2 else "relabel", **({} if i % 2 else {"label": "1"})}
             for i in range(10_000)]
    r = client.put(f"/v1/audits/{aid}/decisions", json={"items": items})
    assert r.status_code == 200, r.text
    assert r.json() == {"changed": 10_000, "unchanged": 0, "items": None}
    progress = client.get(f"/v1/audits/{aid}/decisions", params={"limit": 1}).json()["progress"]
    assert (progress["reviewed"], progress["kept"], progress["relabelled"]) == (10_000, 5_000, 5_000)
    assert client.put(f"/v1/audits/{aid}/decisions", json={"items": items}).json()["changed"] == 0
    undo = client.request("DELETE", f"/v1/audits/{aid}/decisions", json={"filter": {"state": "decided"}})
    assert undo.json()["changed"] == 10_000
    assert client.get(f"/v1/audits/{aid}/decisions").json()["progress"]["reviewed"] == 0


def test_decisions_survive_a_reordered_upload_and_bulk(client, app):
    data = csv_bytes(300)
    lines = data.decode().splitlines()
    rng = np.random.default_rng(0)
    shuffled = ("\n".join([lines[0], *[lines[1:][i] for i in rng.permutation(len(lines) - 1)]]) + "\n").encode()
    a = client.post("/v1/datasets", files={"file": ("a.csv", data)}).json()
    b = client.post("/v1/datasets", files={"file": ("b.csv", shuffled)}).json()
    audit_a, audit_b = audit_of(client, app, a["id"]), audit_of(client, app, b["id"])
    # every example of audit a decided in one request, by index
    items = [{"index": i, "decision": ["keep", "exclude", "unsure"][i % 3]} for i in range(300)]
    r = client.put(f"/v1/audits/{audit_a['id']}/decisions", json={"items": items})
    assert r.status_code == 200 and r.json()["changed"] == 300
    rows_a = {i["key"]: i for i in client.get(f"/v1/audits/{audit_a['id']}/decisions",
                                              params={"limit": 1000}).json()["items"]}
    rows_b = client.get(f"/v1/audits/{audit_b['id']}/decisions", params={"limit": 1000}).json()
    # duplicate rows in the digits share a content key; each key has one decision
    assert rows_b["total"] == 300 and {i["key"] for i in rows_b["items"]} == set(rows_a)
    for row in rows_b["items"]:
        assert row["decision"] == rows_a[row["key"]]["decision"]
    assert rows_b["progress"]["reviewed"] == 300
    # appended rows: the old rows keep their decisions, the new ones have none
    grown = (shuffled.decode() + "\n".join(csv_bytes(320).decode().splitlines()[301:]) + "\n").encode()
    c = client.post("/v1/datasets", files={"file": ("c.csv", grown)}).json()
    audit_c = audit_of(client, app, c["id"])
    progress = client.get(f"/v1/audits/{audit_c['id']}/decisions").json()["progress"]
    assert (progress["num_examples"], progress["reviewed"]) == (320, 300)
    undecided = client.get(f"/v1/audits/{audit_c['id']}/decisions", params={"state": "undecided"}).json()
    assert undecided["total"] == 20 and all(i["decision"] is None for i in undecided["items"])


def image_zip(n: int = 300) -> bytes:
    """The first ``n`` digits as 8x8 PNGs in an ImageFolder zip (``<class>/<i>.png``)."""
    import zipfile

    from PIL import Image

    from tests.service_fixtures import digits_arrays

    X, y = digits_arrays(n)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (x, label) in enumerate(zip(X, y)):
            png = io.BytesIO()
            Image.fromarray((x.reshape(8, 8) * 15).astype(np.uint8)).save(png, format="PNG")
            zf.writestr(f"{label}/{i:04d}.png", png.getvalue())
    return buf.getvalue()


def test_image_audit_review_apply_manifest_and_reaudit(client, app):
    ds = client.post("/v1/datasets", files={"file": ("digits.zip", image_zip())})
    assert ds.status_code == 201, ds.text
    noisy = client.post(f"/v1/datasets/{ds.json()['id']}/noise", json={"kind": "pairwise", "rate": 0.15,
                                                                       "seed": 4}).json()
    audit = audit_of(client, app, noisy["id"])
    aid = audit["id"]
    r = client.put(f"/v1/audits/{aid}/decisions", json={"filter": {"is_issue": True}, "decision": "relabel"})
    assert r.json()["changed"] == audit["summary"]["num_issues"] > 0
    fixed = client.post(f"/v1/audits/{aid}/apply").json()
    manifest = client.get(f"/v1/datasets/{fixed['id']}/download")
    assert manifest.status_code == 200 and manifest.headers["content-type"].startswith("text/csv")
    table = pacsv.read_csv(io.BytesIO(manifest.content)).to_pydict()
    assert set(table) >= {"id", "label", "original_label", "review_decision"} and len(table["id"]) == noisy["rows"]
    assert all(p.endswith(".png") for p in table["id"])
    assert table["review_decision"].count("relabel") == audit["summary"]["num_issues"]
    re_audit = audit_of(client, app, fixed["id"])
    assert re_audit["summary"]["issue_rate"] < audit["summary"]["issue_rate"]
