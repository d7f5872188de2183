"""``labelaudit keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import Optional

import typer

from labelaudit.cli.common import err, fail, need_extra
from labelaudit.errors import LabelAuditError

keys_app = typer.Typer(help="Manage API keys (needed when LABELAUDIT_AUTH is on, the default).",
                       no_args_is_help=True)


@keys_app.command("create")
def keys_create(name: str = typer.Option(..., "--name", help="Who the key is for, e.g. team-a."),
                tenant: Optional[str] = typer.Option(
                    None, "--tenant", help="Whose data the key opens (default: a new tenant named like the key; "
                                           "refused if that tenant exists). Name an existing tenant to add a key "
                                           "to it. Keys of one tenant share its datasets and audits; other "
                                           "tenants' are invisible (404).")) -> None:
    """Create a key and print it once (only its hash is stored)."""
    need_extra("server", "labelaudit keys")
    from labelaudit.config import get_settings
    from labelaudit.services.keys import create_api_key
    from labelaudit.store.db import open_database

    try:
        rec, plain = create_api_key(open_database(get_settings()), name, tenant)
    except LabelAuditError as exc:
        fail(str(exc))
    err.print(f"created key {rec.id} ({rec.name}, tenant {rec.tenant}); store it now, it is not shown again:")
    print(plain)


@keys_app.command("list")
def keys_list(all_keys: bool = typer.Option(False, "--all", help="Include revoked keys.")) -> None:
    """List keys: id, name, prefix, created, last used, revoked."""
    need_extra("server", "labelaudit keys")
    from labelaudit.config import get_settings
    from labelaudit.services.keys import list_api_keys
    from labelaudit.store.db import open_database

    for k in list_api_keys(open_database(get_settings()), include_revoked=all_keys):
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
        revoked = f"  revoked {k.revoked_at.isoformat(timespec='seconds')}" if k.revoked_at else ""
        print(f"{k.id}\t{k.name}\ttenant {k.tenant}\t{k.prefix}…\tcreated {k.created_at.isoformat(timespec='seconds')}"
              f"\tlast used {used}{revoked}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key id from `labelaudit keys list`.")) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    need_extra("server", "labelaudit keys")
    from labelaudit.config import get_settings
    from labelaudit.services.keys import revoke_api_key
    from labelaudit.store.db import open_database

    try:
        revoke_api_key(open_database(get_settings()), key_id)
    except LabelAuditError as exc:
        fail(str(exc))
    err.print(f"revoked {key_id}")
