"""The ``labelaudit`` command: audit, check, inject-noise, apply, serve, worker, keys, doctor.

Exit codes: 0 success, 1 a ``check`` policy violated, 2 bad input or usage (one
clear line on stderr, no traceback), 3 the audit itself failed.
``LABELAUDIT_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations


import typer

from labelaudit.cli import audit, check, doctor, keys, noise, review, service

app = typer.Typer(
    name="labelaudit",
    help="Find the wrong labels in a dataset: cross-validated training + confident learning (cleanlab).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(audit.audit)
app.command("inject-noise")(noise.inject_noise_cmd)
app.command("apply")(review.apply_cmd)
app.command(help=check.CHECK_HELP)(check.check)
app.command()(service.serve)
app.command()(service.worker)
app.add_typer(keys.keys_app, name="keys")
app.command()(doctor.doctor)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="labelaudit")
