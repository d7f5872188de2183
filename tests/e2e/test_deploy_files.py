"""The deploy files parse and wire the services together (no Docker engine is needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
yaml = pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_volumes(compose):
    services = compose["services"]
    assert {"api", "worker", "postgres"} <= set(services)
    assert "pgdata" in compose["volumes"] and "data" in compose["volumes"]
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])
    for name in ("api", "worker"):
        assert "data:/data" in services[name]["volumes"]


def test_env_wiring(compose):
    services = compose["services"]
    pg = services["postgres"]["environment"]
    for name in ("api", "worker"):
        env = services[name]["environment"]
        url = env["LABELAUDIT_DATABASE_URL"]
        assert url == (f"postgresql+psycopg://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
                       f"@postgres:5432/{pg['POSTGRES_DB']}")
        assert env["LABELAUDIT_DATA_DIR"] == "/data"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["environment"]["LABELAUDIT_WORKERS"] == "0"
    assert services["api"]["command"] == ["labelaudit", "serve"]
    assert services["worker"]["command"] == ["labelaudit", "worker"]
    assert services["api"]["ports"] == ["8000:8000"]
    from app.config import get_settings

    settings = get_settings(**{k.removeprefix("LABELAUDIT_").lower(): v
                               for k, v in services["api"]["environment"].items()})
    assert settings.workers == 0 and settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert settings.auth == "on"  # the production shape never runs open


def test_healthchecks(compose):
    services = compose["services"]
    for name in ("api", "worker", "postgres"):
        hc = services[name]["healthcheck"]
        assert hc["test"] and hc["interval"] and hc["retries"] >= 3
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_dockerfile_shape():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "-c constraints-cpu.txt" in text and "ARG TORCH_INDEX" in text
    assert "\nUSER labelaudit" in text and "HEALTHCHECK" in text
    assert (ROOT / ".dockerignore").exists()
