"""What every ``labelaudit`` command shares: the consoles, one-line failures with exit codes, reading inputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from labelaudit.errors import EXIT_FAILED, EXIT_INPUT, LabelAuditError, exit_code
from labelaudit.vocab import InputFormat



class _Console(Console):
    """rich's console, but a reader that went away (``| head``) is not an error: rich's own answer is exit 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


# Rich wraps at 80 columns when not on a terminal; CI logs read better wider.
out = _Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 120)))
err = _Console(stderr=True, width=None if sys.stderr.isatty() else int(os.environ.get("COLUMNS", 120)))


def fail(message: str, code: int = EXIT_INPUT) -> None:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    err.print(f"error: {message}", highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(code)


def need_extra(extra: str, what: str) -> None:
    """Exit 2 with the install command when ``extra`` (see :mod:`labelaudit.extras`) is not installed."""
    from labelaudit.errors import MissingExtra
    from labelaudit.extras import require

    try:
        require(extra, what)
    except MissingExtra as exc:
        fail(exc.message)


def closed_pipe() -> None:
    """stdout's reader went away (``| head``): send what is left to /dev/null instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def guard(fn):
    """Turn domain errors into one line and exit 2; unexpected ones into exit 3."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except BrokenPipeError:  # `labelaudit audit ... | head`: the reader had all it wanted
            closed_pipe()
            raise typer.Exit(0)
        except LabelAuditError as exc:
            if os.environ.get("LABELAUDIT_DEBUG"):
                raise
            fail(str(exc), exit_code(exc))
        except KeyboardInterrupt:
            fail("interrupted", EXIT_FAILED)
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            if os.environ.get("LABELAUDIT_DEBUG"):
                raise
            fail(f"the audit failed: {type(exc).__name__}: {exc} (LABELAUDIT_DEBUG=1 shows the traceback)",
                  EXIT_FAILED)
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    run.__wrapped__ = fn
    return run


#: the column-role options of ``audit``, ``check`` and ``inject-noise`` (repeat them, or give comma-separated names)
FEATURES = typer.Option(None, "--features", help="Feature columns (comma-separated or repeated); every other "
                        "column is ignored. Inferred when omitted.")
DROP_COLUMNS = typer.Option(None, "--drop-columns", help="Columns to leave out (comma-separated or repeated).")
CATEGORICAL = typer.Option(None, "--categorical", help="Columns to treat as categories, whatever their values.")
TEXT = typer.Option(None, "--text", help="Columns to treat as free text.")


def column_roles(features: Optional[list[str]] = None, drop_columns: Optional[list[str]] = None,
                 categorical: Optional[list[str]] = None, text: Optional[list[str]] = None):
    """The ``--features``, ``--drop-columns``, ``--categorical`` and ``--text`` flags as one ``RoleOverrides``
    (``None`` when none is given)."""
    if not (features or drop_columns or categorical or text):
        return None
    from labelaudit.core.ingest import RoleOverrides

    def names(values):
        return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())

    return RoleOverrides(features=names(features) if features else None, drop_columns=names(drop_columns),
                         categorical=names(categorical), text=names(text))


def load_input(path: Path, fmt: Optional[InputFormat], label_column: str, labels: Optional[Path],
               id_column: Optional[str], folds: int, image_size: Optional[int] = None, skip_corrupt: bool = False,
               roles=None):
    """Read and validate a dataset file for a command (unreadable images it skipped are listed on stderr;
    rows left out for want of a label are counted there)."""
    from labelaudit.core.ingest import load_dataset

    ds = load_dataset(path, format=fmt.value if fmt else None, label_column=label_column, labels=labels,
                      id_column=id_column, folds=folds, image_size=image_size, skip_corrupt=skip_corrupt,
                      roles=roles)
    missing = ds.meta.get("missing_labels") or {}
    if missing.get("count"):
        shown = missing.get("ids") or [str(r) for r in missing["rows"]]
        err.print(f"left out {missing['count']:,} rows with no label in {label_column!r} "
                  f"({'ids' if missing.get('ids') else 'rows'} {', '.join(shown[:5])}"
                  + (" ..." if missing["count"] > 5 else "") + ")", highlight=False)
    skipped = ds.meta.get("skipped") or []
    if skipped:
        err.print(f"skipped {len(skipped)} unreadable images: {', '.join(skipped[:5])}"
                  + (" ..." if len(skipped) > 5 else ""), highlight=False)
    return ds


def load_reference(path: Path, dataset, label_column: str, labels: Optional[Path], id_column: Optional[str],
                   image_size: Optional[int] = None, skip_corrupt: bool = False):
    """Read a ``--reference`` file (any format, detected) for the audited ``dataset``: a table's columns read as
    the dataset's were (:func:`labelaudit.core.reference.reference_roles`); a problem names the field
    ``reference``."""
    from labelaudit.core.reference import reference_roles
    from labelaudit.errors import LabelAuditError

    try:
        return load_input(path, None, label_column, labels, id_column, 1, image_size, skip_corrupt,
                          roles=reference_roles(dataset))
    except LabelAuditError as exc:
        exc.message = f"--reference {path}: {exc.message}"
        exc.field = "reference"
        raise


def read_noise_matrix(path: Optional[Path]):
    """A ``--noise-matrix`` file (.npy or .json) as an array, or ``None``."""
    if path is None:
        return None
    import numpy as np

    if path.suffix == ".json":
        try:
            return np.asarray(json.loads(path.read_text()), dtype=float)
        except (OSError, ValueError) as exc:
            fail(f"--noise-matrix: cannot read {path}: {exc}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        fail(f"--noise-matrix: cannot read {path}: {exc}")


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` (a failed write exits 2 naming the file)."""
    try:
        with open(path, "w") as fh:
            json.dump(data, fh, indent=1, allow_nan=False)
    except OSError as exc:
        fail(f"--json: cannot write {path}: {exc.strerror}")


def write_rows_csv(path: Path, result, top: Optional[int]) -> None:
    """Write the ranked per-example rows of ``result`` (the ``top`` lowest-quality ones) as CSV."""
    import csv

    rows = list(result.rows(top))
    try:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) if rows else ["rank"])
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        fail(f"--csv: cannot write {path}: {exc.strerror}")
