"""`labelaudit keys create/list/revoke` as real subprocesses on a SQLite or PostgreSQL database."""

from __future__ import annotations

import os
import subprocess

from labelaudit.services.keys import verify_api_key
from labelaudit.store.db import open_database
from tests.cli.test_audit import CLI


def keys(settings, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    env.update(LABELAUDIT_DATA_DIR=str(settings.data_dir), LABELAUDIT_DATABASE_URL=settings.resolved_database_url)
    return subprocess.run([*CLI, "keys", *args], capture_output=True, text=True, env=env, timeout=120)


def test_create_list_revoke(service_settings):
    made = keys(service_settings, "create", "--name", "team-a")
    assert made.returncode == 0, made.stderr
    plain = made.stdout.strip()
    assert plain.startswith("la_") and len(plain) > 30
    db = open_database(service_settings)
    rec = verify_api_key(db, plain)
    assert rec is not None and rec.name == "team-a"

    listed = keys(service_settings, "list")
    assert listed.returncode == 0 and rec.id in listed.stdout and "team-a" in listed.stdout
    assert plain not in listed.stdout  # only the prefix is ever shown again

    assert keys(service_settings, "revoke", rec.id).returncode == 0
    assert verify_api_key(db, plain) is None
    assert rec.id not in keys(service_settings, "list").stdout
    assert "revoked" in keys(service_settings, "list", "--all").stdout

    missing = keys(service_settings, "revoke", "key_nope")
    assert missing.returncode == 2 and "no API key" in missing.stderr
    db.dispose()


def test_create_refuses_an_existing_tenant_unless_named_and_names_with_control_characters(service_settings):
    assert keys(service_settings, "create", "--name", "a").returncode == 0
    again = keys(service_settings, "create", "--name", "a")  # would silently open tenant a's data
    assert again.returncode == 2 and "already exists" in again.stderr and "--tenant a" in again.stderr
    joined = keys(service_settings, "create", "--name", "a", "--tenant", "a")
    assert joined.returncode == 0, joined.stderr
    for bad in ("two\nlines", "tab\there", "bell\x07", "x" * 300):
        made = keys(service_settings, "create", "--name", bad, "--tenant", "a")
        assert made.returncode == 2 and "control characters" in made.stderr, bad
    assert keys(service_settings, "create", "--name", "ok", "--tenant", "b\n").returncode == 2
    listed = keys(service_settings, "list").stdout
    assert listed.count("tenant a") == 2 and "two" not in listed
