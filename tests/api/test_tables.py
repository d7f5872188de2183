"""Real-world tables over HTTP (SQLite and PostgreSQL): column roles and id_column on upload, the schema on the
dataset record, missing labels, problem documents naming every column, and text and mixed tables audited."""

from __future__ import annotations

import csv
import io
import json

from tests.service_fixtures import run_jobs
from tests.tables import penguins_like, reviews


def csv_of(df) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode()


def upload(client, content: bytes, **fields):
    return client.post("/v1/datasets", files={"file": ("table.csv", content)}, data=fields)


def test_upload_keeps_the_schema_id_column_and_missing_labels(client, app):
    r = upload(client, csv_of(penguins_like(90)), label_column="species", id_column="id",
               drop_columns="island", categorical='["flipper_length_mm"]')
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["rows"] == 86 and body["class_names"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert body["id_column"] == "id" and body["missing_labels"]["count"] == 4
    assert len(body["missing_labels"]["ids"]) == 4 and body["missing_labels"]["ids"][0].startswith("P0")
    columns = {c["name"]: c for c in client.get(f"/v1/datasets/{body['id']}").json()["columns"]}
    assert columns["island"]["role"] == "ignored" and columns["flipper_length_mm"]["type"] == "categorical"
    assert columns["Unnamed: 0"]["role"] == "id" and columns["year"]["reason"] == "constant"
    assert columns["bill_length_mm"]["missing_share"] > 0 and columns["sex"]["distinct"] == 2
    audit = client.post("/v1/audits", json={"dataset_id": body["id"], "folds": 3}).json()
    assert run_jobs(app) == 1
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "done", got
    assert got["summary"]["backbone"] == "gbt" and got["summary"]["missing_labels"]["count"] == 4
    issues = client.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 5}).json()["items"]
    assert issues and all(row["example_id"].startswith("P0") for row in issues)
    # the example as its columns read: category names, numbers, null where missing
    rows = client.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 100}).json()["items"]
    holed = next(r for r in rows if r["example_id"] in set(penguins_like(90).loc[
        penguins_like(90)["bill_length_mm"].isna(), "id"]))
    ex = client.get(f"/v1/audits/{audit['id']}/examples/{holed['index']}")
    assert ex.status_code == 200, ex.text
    fields = ex.json()["fields"]
    assert list(fields) == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex"]
    assert fields["bill_length_mm"] is None and fields["sex"] in ("male", "female", None)
    assert isinstance(fields["flipper_length_mm"], str)  # named categorical: its category name
    # the export, with the table's columns on request
    plain = client.get(f"/v1/audits/{audit['id']}/export").text.splitlines()
    assert not any(name.startswith('"column.') for name in plain[0].split(","))
    rows = list(csv.DictReader(io.StringIO(client.get(f"/v1/audits/{audit['id']}/export",
                                                      params={"columns": "true"}).text)))
    assert len(rows) == 86 and rows[0]["column.sex"] in ("male", "female", "")
    by_id = {r["example_id"]: r for r in rows}
    original = penguins_like(90).set_index("id")
    for key in list(by_id)[:10]:
        want = original.loc[key, "bill_length_mm"]
        got = by_id[key]["column.bill_length_mm"]
        assert (got == "" and want != want) or abs(float(got) - want) < 1e-4


def test_column_problems_are_one_422_naming_every_column(client):
    r = upload(client, csv_of(penguins_like(60)), label_column="species", features="nope, bill_length_mm",
               drop_columns="bill_length_mm", text="species")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"].endswith("/column_problems")
    assert {(e["code"], e["field"]) for e in problem["errors"]} == {
        ("missing_column", "features"), ("conflicting_override", "drop_columns"), ("invalid_override", "text")}
    assert all(e["message"] for e in problem["errors"])
    r = upload(client, csv_of(penguins_like(60)), label_column="species", features='["a", 1]')
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "features"
    assert client.get("/v1/datasets").json()["items"] == []  # nothing half-written


def test_label_shapes_and_missing_columns_are_4xx_with_what_was_seen(client):
    df = penguins_like(60, blank_labels=0)
    multi = df.assign(species=["Adelie,Gentoo" if i % 7 == 0 else s for i, s in enumerate(df["species"])])
    r = upload(client, csv_of(multi), label_column="species")
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "multi_label"
    assert "'Adelie,Gentoo'" in r.json()["detail"]
    r = upload(client, csv_of(df.assign(species=df["bill_depth_mm"] * 1000)), label_column="species")
    assert r.status_code == 422 and "regression target" in r.json()["detail"]
    r = upload(client, csv_of(df), label_column="species", id_column="missing")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id_column"


def test_text_table_uploaded_and_audited(client, app):
    df = reviews(90)
    df.loc[[0, 2, 4], "label"] = "bad"
    r = upload(client, csv_of(df))
    assert r.status_code == 201, r.text
    body = r.json()
    assert {c["name"]: c["type"] for c in body["columns"]}["review"] == "text"
    bad = client.post("/v1/audits", json={"dataset_id": body["id"], "backbone": "gbt"})
    assert bad.status_code == 422 and "text" in bad.json()["detail"]
    audit = client.post("/v1/audits", json={"dataset_id": body["id"], "folds": 3}).json()
    run_jobs(app)
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "done" and got["summary"]["backbone"] == "text", json.dumps(got)[:500]
    ex = client.get(f"/v1/audits/{audit['id']}/examples/0").json()
    assert ex["fields"]["review"] == df.loc[0, "review"] and ex["fields"]["product"] == df.loc[0, "product"]
