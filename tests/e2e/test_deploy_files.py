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
    from labelaudit.config import get_settings

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


def test_ray_profile(compose):
    """The optional `ray` profile: a Ray head, Ray worker nodes, and an audit worker whose folds run there."""
    services = compose["services"]
    ray_services = {"ray-head", "ray-worker", "worker-ray"}
    assert ray_services <= set(services)
    for name in ray_services:
        assert services[name]["profiles"] == ["ray"]
        assert services[name]["image"] == "labelaudit-ray:latest"
        env = services[name]["environment"]
        assert env["RAY_AUTH_MODE"] == "token" and "RAY_AUTH_TOKEN" in env  # the nodes share one token
    for name in ("api", "worker", "postgres"):  # the default stack is unchanged: no profile, local executor
        assert "profiles" not in services[name]
        assert services[name].get("environment", {}).get("LABELAUDIT_EXECUTOR", "local") == "local"
    head = services["ray-head"]
    assert head["build"]["args"]["EXTRAS"] == "server,torch,ray"
    assert head["command"][:3] == ["ray", "start", "--head"] and "--port=6379" in head["command"]
    assert "--ray-client-server-port=10001" in head["command"] and "--block" in head["command"]
    assert head["healthcheck"]["test"] and head["shm_size"]
    node = services["ray-worker"]
    assert node["command"][:2] == ["ray", "start"] and "--address=ray-head:6379" in node["command"]
    assert node["depends_on"]["ray-head"]["condition"] == "service_healthy"
    driver = services["worker-ray"]
    assert driver["command"] == ["labelaudit", "worker"] and "data:/data" in driver["volumes"]
    env = driver["environment"]
    assert env["RAY_ADDRESS"] == "ray://ray-head:10001"
    assert env["LABELAUDIT_DATABASE_URL"] == services["worker"]["environment"]["LABELAUDIT_DATABASE_URL"]
    assert driver["depends_on"]["ray-head"]["condition"] == "service_healthy"
    from labelaudit.config import get_settings

    settings = get_settings(**{k.removeprefix("LABELAUDIT_").lower(): v for k, v in env.items()
                               if k.startswith("LABELAUDIT_") or k == "RAY_ADDRESS"})
    assert settings.executor == "ray" and settings.ray_address == "ray://ray-head:10001"
    assert settings.ray_cpus_per_fold == 1.0


def test_dockerfile_extras():
    """The image is the server with the torch backbones; Ray by build argument; extras as pyproject names them."""
    text = (ROOT / "Dockerfile").read_text()
    assert 'ARG EXTRAS="server,torch"' in text and text.count('".[${EXTRAS}]"') == 2
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(req.startswith("ray") for req in extras["ray"])
    assert any(req.startswith("torch") for req in extras["torch"])
    assert any(req.startswith("fastapi") for req in extras["server"])
    core = " ".join(project["dependencies"])
    assert "torch" not in core and "fastapi" not in core and "sqlalchemy" not in core
    assert any(req.startswith("ray") for req in extras["test"])  # CI runs the Ray executor's tests
