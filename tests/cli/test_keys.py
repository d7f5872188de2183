"""`labelaudit keys create/list/revoke` as real subprocesses on a SQLite or PostgreSQL database."""

from __future__ import annotations

import os
import subprocess

import pytest

from labelaudit.services.keys import create_api_key, list_api_keys, verify_api_key
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
    from labelaudit.errors import OptionError

    assert keys(service_settings, "create", "--name", "a").returncode == 0
    again = keys(service_settings, "create", "--name", "a")  # would silently open tenant a's data
    assert again.returncode == 2 and "already exists" in again.stderr and "--tenant a" in again.stderr
    forged = keys(service_settings, "create", "--name", "two\nlines", "--tenant", "a")
    assert forged.returncode == 2 and "control characters" in forged.stderr
    db = open_database(service_settings)
    try:
        joined = create_api_key(db, "a", tenant="a")[0]  # naming the tenant joins it
        assert joined.tenant == "a"
        for name, tenant in (("tab\there", "a"), ("bell\x07", "a"), ("x" * 300, "a"), ("ok", "b\n"), ("", "a")):
            with pytest.raises(OptionError):
                create_api_key(db, name, tenant=tenant)
        assert sum(k.tenant == "a" for k in list_api_keys(db)) == 2
    finally:
        db.dispose()
