"""``labelaudit doctor``: the store's consistency check (rows against artifact files)."""

from __future__ import annotations

import json

import typer

from labelaudit.cli.common import need_extra


def doctor(fix: bool = typer.Option(False, "--fix", help="Remove orphaned artifacts and leftover temporary files "
                                                        "older than --min-age (never a file a row refers to)."),
           min_age: float = typer.Option(3600.0, "--min-age", min=0.0,
                                         help="Seconds a file must be old before --fix removes it (an upload in "
                                              "progress owns its newer files)."),
           as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object.")) -> None:
    """Check that every dataset and audit has its artifact file and every file has an owner.

    Reports dangling references (a row whose file is missing: data loss), orphans
    (files no row refers to), leftover temporary files and recorded sizes that differ
    from the files'. Exit code 0 when all is consistent, 1 when something was found.
    """
    need_extra("server", "labelaudit doctor")
    from labelaudit.config import get_settings
    from labelaudit.services.doctor import check_store
    from labelaudit.store.artifacts import artifact_store
    from labelaudit.store.db import open_database

    settings = get_settings()
    db = open_database(settings)
    try:
        report = check_store(db, artifact_store(settings), fix=fix, min_age=min_age)
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{report.files} artifact files, {report.file_bytes} bytes ({report.referenced_bytes} referenced)")
        for d in report.dangling:
            print(f"DANGLING {d['digest']}: file missing for {', '.join(d['rows'])}")
        for o in report.orphans:
            print(f"ORPHAN   {o['digest']}.{o['ext']}: {o['bytes']} bytes, no row refers to it")
        for t in report.temporary:
            print(f"TEMP     {t}")
        for z in report.sizes:
            print(f"SIZE     {z['digest']}: recorded {z['recorded']} bytes, {z['on_disk']} on disk")
        for r in report.removed:
            print(f"removed  {r}")
        print("consistent" if report.ok else "inconsistent")
    if not report.ok and not (fix and not report.dangling and not report.sizes and _all_removed(report)):
        raise typer.Exit(1)


def _all_removed(report) -> bool:
    removed = set(report.removed)
    return all(o["digest"] in removed for o in report.orphans) and all(t in removed for t in report.temporary)
