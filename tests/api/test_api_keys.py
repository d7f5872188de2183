"""API keys: with auth off (local mode) none is needed; when required, /v1 needs a live key and health endpoints stay open."""

from __future__ import annotations

from labelaudit.services.keys import create_api_key, revoke_api_key


def test_keys_not_required_when_auth_is_off(client):
    assert client.get("/v1/datasets").status_code == 200


def test_required_keys(app, client):
    app.state.settings.auth = "on"
    r = client.get("/v1/datasets")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/datasets", headers={"Authorization": "Bearer la_wrong"}).status_code == 401
    rec, plain = create_api_key(app.state.db, "ci")
    assert client.get("/v1/datasets", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    assert client.get("/v1/datasets", headers={"X-API-Key": plain}).status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    revoke_api_key(app.state.db, rec.id)
    assert client.get("/v1/datasets", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
