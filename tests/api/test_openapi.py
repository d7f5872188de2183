"""The OpenAPI document is valid and says what the service really does: readable operation ids, enums,
problem+json for every error, Location on creation; class filters take names; /docs needs no network."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from tests.service_fixtures import run_jobs, synthetic_pred_probs, npy_bytes


def test_the_document_is_valid_and_readable(client):
    spec = client.get("/openapi.json").json()
    validate(spec)
    ops = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)+", i) for i in ids), ids
    assert {"datasets-upload", "datasets-add-noise", "audits-create", "audits-get-issues", "audits-list"} <= set(ids)
    for path, method, op in ops:
        assert op.get("tags"), (path, method)
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (path, method, status)
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["BackboneName"]["enum"][0] == "auto" and "normalized_margin" in schemas["RankMethod"]["enum"]
    assert schemas["AuditIn"]["examples"] and schemas["NoiseIn"]["examples"]
    created = spec["paths"]["/v1/audits"]["post"]["responses"]["202"]
    assert "Location" in created["headers"]


def test_creation_answers_with_a_location(client):
    probs, labels = synthetic_pred_probs(200, k=3)[:2]
    r = client.post("/v1/datasets", files={"file": ("p_pyx.npy", npy_bytes(probs)),
                                           "labels_file": ("p_labels.npy", npy_bytes(labels))})
    assert r.status_code == 201 and r.headers["location"] == f"/v1/datasets/{r.json()['id']}"
    assert client.get(r.headers["location"]).json()["id"] == r.json()["id"]
    a = client.post("/v1/audits", json={"dataset_id": r.json()["id"]})
    assert a.status_code == 202 and client.get(a.headers["location"]).json()["id"] == a.json()["id"]
    n = client.post(f"/v1/datasets/{r.json()['id']}/noise", json={"rate": 0.1})
    assert n.status_code == 201 and n.headers["location"] == f"/v1/datasets/{n.json()['id']}"


def test_issue_filters_take_class_names(client, app):
    header = "a,b,species\n"
    rows = "".join(f"{i % 7},{(i * 3) % 5},{['Adelie', 'Gentoo', 'Chinstrap'][i % 3]}\n" for i in range(90))
    ds = client.post("/v1/datasets", files={"file": ("p.csv", (header + rows).encode())},
                     data={"label_column": "species"}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 3}).json()
    run_jobs(app)
    names = ds["class_names"]
    by_name = client.get(f"/v1/audits/{audit['id']}/issues", params={"given_label": "Gentoo"}).json()
    by_id = client.get(f"/v1/audits/{audit['id']}/issues",
                       params={"given_label": names.index("Gentoo")}).json()
    assert by_name == by_id and by_name["items"] and {r["given_class"] for r in by_name["items"]} == {"Gentoo"}
    bad = client.get(f"/v1/audits/{audit['id']}/issues", params={"suggested_label": "Emperor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "suggested_label"
    assert bad.json()["errors"][0]["code"] == "unknown_class" and "'Adelie'" in bad.json()["detail"]


def test_the_docs_pages_load_their_assets_from_the_service(client):
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        (url,) = re.findall(r'src="([^"]*' + re.escape(asset) + ')"', html)
        assert url.startswith("/") and client.get(url).status_code == 200
