"""A server whose disk refuses writes answers 507 ``insufficient_storage``, stores nothing and keeps serving.

The refusal is real: the server process runs under a file-size limit (``RLIMIT_FSIZE``,
with ``SIGXFSZ`` ignored), so the kernel fails its writes past 4 MB with ``EFBIG``, as
a full disk fails them with ``ENOSPC``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.service_fixtures import SERVE_CODE, csv_bytes, free_port, service_env, serving

LIMIT = 4 * 1024 * 1024
LIMITED_SERVE = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                 f"resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT})); " + SERVE_CODE)


@pytest.fixture
def limited_server(service_settings, tmp_path):
    env = service_env(service_settings, LABELAUDIT_PORT=free_port(), LABELAUDIT_WORKERS=0)
    with serving(env, tmp_path / "server.log", code=LIMITED_SERVE) as url:
        yield url, service_settings


def test_a_full_disk_is_a_507_and_leaves_nothing_behind(limited_server, tmp_path):
    url, settings = limited_server
    header, rows = csv_bytes(400).split(b"\n", 1)
    big = header + b"\n" + rows * (LIMIT * 3 // 2 // len(rows))  # about 6 MB: it cannot be written to disk whole
    assert len(big) > LIMIT
    with httpx.Client(base_url=url, timeout=60) as client:
        r = client.post("/v1/datasets", files={"file": ("big.csv", big)})
        assert r.status_code == 507, r.text
        body = r.json()
        assert body["status"] == 507 and body["errors"][0]["code"] == "insufficient_storage", body
        assert "disk is full" in body["detail"] and "Errno" not in body["detail"]  # no internals
        assert client.get("/v1/datasets").json()["items"] == []
        leftovers = list((settings.data_dir / "tmp").rglob("*")) if (settings.data_dir / "tmp").exists() else []
        assert leftovers == []
        metrics = client.get("/metrics").text
        assert 'labelaudit_errors_total{code="insufficient_storage",status="507"} 1.0' in metrics
        small = client.post("/v1/datasets", files={"file": ("small.csv", csv_bytes(400))})
        assert small.status_code == 201, small.text  # the server goes on serving what fits
        assert [d["id"] for d in client.get("/v1/datasets").json()["items"]] == [small.json()["id"]]
