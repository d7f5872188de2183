"""The storage quota counts what a tenant has on disk (each distinct file once) plus the pred_probs its queued and
running audits will write, so neither repeated uploads nor a burst of audits is charged wrongly or slips past it."""

from __future__ import annotations

from tests.api.test_audits import pred_probs_dataset


def test_queued_audits_reserve_their_results_and_repeats_cost_nothing(client, app):
    ds, _, _ = pred_probs_dataset(client, n=100)  # 100 x 5 classes: an audit's pred_probs take 2,000 bytes
    used = client.get("/v1/usage").json()["stored_bytes"]
    again = client.post("/v1/datasets", files={"file": ("p.npy", b"")})  # an empty upload: refused, nothing kept
    assert again.status_code == 422
    twin, _, _ = pred_probs_dataset(client, n=100)  # the same content again: one file, counted once
    assert twin["id"] != ds["id"] and client.get("/v1/usage").json()["stored_bytes"] == used
    app.state.settings.max_storage_bytes_per_tenant = used + 5_000  # room for two audits' results, not three
    codes = [client.post("/v1/audits", json={"dataset_id": ds["id"]}).status_code for _ in range(3)]
    assert codes == [202, 202, 507], codes
    refused = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    assert refused["errors"][0]["code"] == "storage_quota_exceeded"
