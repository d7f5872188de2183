"""The ``labelaudit`` command: audit, inject-noise, serve, worker.

Exit codes: 0 success, 2 bad input or usage (one clear line on stderr, no
traceback), 3 the audit itself failed. ``LABELAUDIT_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from labelaudit.errors import EXIT_FAILED, EXIT_INPUT, LabelAuditError, exit_code

app = typer.Typer(
    name="labelaudit",
    help="Find the wrong labels in a dataset: cross-validated training + confident learning (cleanlab).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Rich wraps at 80 columns when not on a terminal; CI logs read better wider.
out = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 120)))
err = Console(stderr=True, width=None if sys.stderr.isatty() else int(os.environ.get("COLUMNS", 120)))


class Backbone(str, Enum):
    auto = "auto"
    logreg = "logreg"
    mlp = "mlp"
    cnn = "cnn"
    resnet = "resnet"
    se_resnet = "se_resnet"
    mbconv = "mbconv"


class InputFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    npz = "npz"
    idx = "idx"
    pred_probs = "pred-probs"
    image_zip = "image-zip"


class NoiseKind(str, Enum):
    pairwise = "pairwise"
    symmetric = "symmetric"
    matrix = "matrix"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _fail(message: str, code: int = EXIT_INPUT) -> None:
    err.print(f"error: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn):
    """Turn domain errors into one line and exit 2; unexpected ones into exit 3."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except LabelAuditError as exc:
            if os.environ.get("LABELAUDIT_DEBUG"):
                raise
            _fail(str(exc), exit_code(exc))
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_FAILED)
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            if os.environ.get("LABELAUDIT_DEBUG"):
                raise
            _fail(f"the audit failed: {type(exc).__name__}: {exc} (LABELAUDIT_DEBUG=1 shows the traceback)",
                  EXIT_FAILED)
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    run.__wrapped__ = fn
    return run


def _load(path: Path, fmt: Optional[InputFormat], label_column: str, labels: Optional[Path],
          id_column: Optional[str], folds: int, image_size: Optional[int] = None, skip_corrupt: bool = False):
    from labelaudit.audit.ingest import load_dataset

    ds = load_dataset(path, format=fmt.value if fmt else None, label_column=label_column, labels=labels,
                      id_column=id_column, folds=folds, image_size=image_size, skip_corrupt=skip_corrupt)
    skipped = ds.meta.get("skipped") or []
    if skipped:
        err.print(f"skipped {len(skipped)} unreadable images: {', '.join(skipped[:5])}"
                  + (" ..." if len(skipped) > 5 else ""), highlight=False)
    return ds


def _backbone_options(image_size, weights, weights_mode, hflip) -> dict:
    opts = {"image_size": image_size, "weights": str(weights) if weights else None,
            "weights_mode": weights_mode if weights else None, "hflip": True if hflip else None}
    return {k: v for k, v in opts.items() if v is not None}


def _noise_matrix(path: Optional[Path]):
    if path is None:
        return None
    import numpy as np

    if path.suffix == ".json":
        try:
            return np.asarray(json.loads(path.read_text()), dtype=float)
        except (OSError, ValueError) as exc:
            _fail(f"--noise-matrix: cannot read {path}: {exc}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        _fail(f"--noise-matrix: cannot read {path}: {exc}")


@app.command()
@_guard
def audit(
    path: Path = typer.Argument(..., help="Dataset file: CSV, Parquet, NPZ, IDX images, or a pred_probs .npy."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX images or pred_probs .npy "
                                          "(found next to the data when it follows the usual naming)."),
    label_column: str = typer.Option("label", "--label-column", help="Label column of a table."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Column with a stable key per example."),
    format: Optional[InputFormat] = typer.Option(None, "--format", help="Input format (detected when omitted)."),
    backbone: Backbone = typer.Option(Backbone.auto, "--backbone", help="Model trained in each fold."),
    folds: int = typer.Option(5, "--folds", min=2, max=50, help="Cross-validation folds."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Training epochs (a size-based default)."),
    seed: int = typer.Option(0, "--seed", help="Seeds folds, noise, weights and data order."),
    device: Device = typer.Option(Device.auto, "--device", help="Where to train."),
    rank_method: str = typer.Option("normalized_margin", "--rank-method",
                                    help="normalized_margin | self_confidence | confidence_weighted_entropy"),
    filter_by: str = typer.Option("prune_by_noise_rate", "--filter-by", help="cleanlab's issue filter."),
    inject_noise: Optional[NoiseKind] = typer.Option(None, "--inject-noise",
                                                     help="Flip labels first (a controlled experiment)."),
    noise_rate: float = typer.Option(0.2, "--noise-rate", min=0.0, max=1.0, help="Share of each class flipped."),
    noise_matrix: Optional[Path] = typer.Option(None, "--noise-matrix", help="k x k P(given|true), .npy or .json."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the whole result as JSON."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write the ranked per-example rows as CSV."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Keep only the N lowest-quality rows in --json/--csv."),
    show: int = typer.Option(10, "--show", min=0, help="Suspected issues listed on screen."),
    image_size: Optional[int] = typer.Option(None, "--image-size", min=4, max=512,
                                             help="Resize images to this square size."),
    skip_corrupt: bool = typer.Option(False, "--skip-corrupt", help="Skip unreadable images in a zip (listed)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Local pretrained state dict for the backbone."),
    weights_mode: str = typer.Option("finetune", "--weights-mode", help="finetune | linear_probe"),
    hflip: bool = typer.Option(False, "--hflip", help="Horizontal flips preserve labels: use them to augment."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Audit a dataset's labels and print the suspected label issues."""
    from labelaudit.audit.pipeline import AuditOptions, run_audit
    from labelaudit.console import ProgressDisplay, print_summary
    from labelaudit.services.executors import executor_from_settings

    dataset = _load(path, format, label_column, labels, id_column, folds, image_size, skip_corrupt)
    if inject_noise is not None:
        from labelaudit.audit.noise import inject_noise as inject

        noisy = inject(dataset.labels, kind=inject_noise.value, rate=noise_rate, seed=seed,
                       noise_matrix=_noise_matrix(noise_matrix), num_classes=dataset.num_classes)
        dataset = dataset.with_labels(noisy.labels, noisy.true_labels)
        err.print(f"injected {inject_noise.value} noise: {noisy.num_flipped:,} of {dataset.num_examples:,} "
                  f"labels flipped (seed {seed})", highlight=False)
    options = AuditOptions(backbone=backbone.value, folds=folds, epochs=epochs, seed=seed, device=device.value,
                           rank_method=rank_method, filter_by=filter_by,
                           backbone_options=_backbone_options(image_size, weights, weights_mode, hflip)
                           if dataset.modality == "image" else {})
    with ProgressDisplay(err, enabled=not quiet) as progress:
        # a pred_probs audit trains nothing, so it needs no executor (nor Ray)
        executor = executor_from_settings() if dataset.modality != "pred_probs" else None
        result = run_audit(dataset, options, progress=progress, executor=executor)
    if json_out:
        _write_json(json_out, result.to_dict(top))
    if csv_out:
        _write_rows_csv(csv_out, result, top)
    print_summary(out, result, top=show)


@app.command("inject-noise")
@_guard
def inject_noise_cmd(
    source: Path = typer.Argument(..., help="Input dataset."),
    output: Path = typer.Argument(..., help="Output .csv, .parquet or .npz (gets a true_label column / array)."),
    kind: NoiseKind = typer.Option(NoiseKind.pairwise, "--kind"),
    rate: float = typer.Option(0.2, "--rate", min=0.0, max=1.0),
    seed: int = typer.Option(0, "--seed"),
    noise_matrix: Optional[Path] = typer.Option(None, "--noise-matrix", help="k x k P(given|true), .npy or .json."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX or pred_probs input."),
    label_column: str = typer.Option("label", "--label-column"),
    format: Optional[InputFormat] = typer.Option(None, "--format"),
) -> None:
    """Write a copy of a dataset with controlled label noise and the true labels kept."""
    from labelaudit.audit.noise import inject_noise
    from labelaudit.audit.writers import save_dataset

    dataset = _load(source, format, label_column, labels, None, 2)
    noisy = inject_noise(dataset.labels, kind=kind.value, rate=rate, seed=seed,
                         noise_matrix=_noise_matrix(noise_matrix), num_classes=dataset.num_classes)
    save_dataset(dataset.with_labels(noisy.labels, noisy.true_labels), output, label_column=label_column)
    out.print(f"wrote {output}: {noisy.num_flipped:,} of {dataset.num_examples:,} labels flipped "
              f"({kind.value}, rate {rate}, seed {seed})", highlight=False)


CHECK_HELP = """Fail a CI build when a dataset's labels look worse than the policy allows.

Exit codes: 0 pass, 1 policy violated, 2 usage or input error (bad file, bad flag), 3 the audit failed.
Policy rules come from flags, labelaudit.toml, or [tool.labelaudit] in pyproject.toml; flags win.
"""


@app.command(help=CHECK_HELP)
@_guard
def check(
    path: Optional[Path] = typer.Argument(None, help="Dataset file (any `audit` input), or omit with --dataset-id."),
    dataset_id: Optional[str] = typer.Option(None, "--dataset-id", help="A dataset already on --server."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX images or pred_probs .npy."),
    label_column: str = typer.Option("label", "--label-column"),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Stable example key for --baseline matching "
                                            "(else a hash of each example's content)."),
    format: Optional[InputFormat] = typer.Option(None, "--format"),
    backbone: Optional[Backbone] = typer.Option(None, "--backbone"),
    folds: Optional[int] = typer.Option(None, "--folds", min=2, max=50),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    seed: int = typer.Option(0, "--seed"),
    device: Device = typer.Option(Device.auto, "--device"),
    rank_method: str = typer.Option("normalized_margin", "--rank-method"),
    filter_by: str = typer.Option("prune_by_noise_rate", "--filter-by"),
    fast: bool = typer.Option(False, "--fast", help="Cheapest sound settings: logistic regression, 3 folds."),
    pred_probs: Optional[Path] = typer.Option(None, "--pred-probs", help="Your out-of-sample pred_probs (.npy): "
                                              "skip training."),
    max_issue_rate: Optional[float] = typer.Option(None, "--max-issue-rate", min=0, max=1),
    max_class_issue_rate: Optional[float] = typer.Option(None, "--max-class-issue-rate", min=0, max=1),
    min_health_score: Optional[float] = typer.Option(None, "--min-health-score", min=0, max=1),
    max_issues: Optional[int] = typer.Option(None, "--max-issues", min=0),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="An accepted earlier --json report."),
    max_new_issues: Optional[int] = typer.Option(None, "--max-new-issues", min=0,
                                                 help="Issues not in --baseline allowed (default 0 with a baseline)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Policy file (default: ./labelaudit.toml, "
                                          "else [tool.labelaudit] in ./pyproject.toml)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML: one test case per rule."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full result + policy + verdict."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary "
                                                "(also appended to $GITHUB_STEP_SUMMARY when set)."),
    server: Optional[str] = typer.Option(None, "--server", help="Audit on a running labelaudit service."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="LABELAUDIT_API_KEY"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    from labelaudit.audit.pipeline import AuditOptions
    from labelaudit.check.gate import FAST_SETTINGS, local_audit, run_gate, write_reports
    from labelaudit.check.policy import load_policy
    from labelaudit.console import ProgressDisplay, print_rules

    flags = {"max_issue_rate": max_issue_rate, "max_class_issue_rate": max_class_issue_rate,
             "min_health_score": min_health_score, "max_issues": max_issues, "max_new_issues": max_new_issues,
             "baseline": baseline}
    policy, policy_source = load_policy(flags, config=config)
    notes = [f"policy from {policy_source} (flags win)"] if policy_source else []
    if path is None and dataset_id is None:
        _fail("give a dataset PATH, or --dataset-id with --server")
    if dataset_id is not None and server is None:
        _fail("--dataset-id needs --server")
    chosen = {"backbone": backbone.value if backbone else None, "folds": folds}
    if fast:
        chosen = {k: v if v is not None else FAST_SETTINGS[k] for k, v in chosen.items()}
        notes.append(f"--fast: backbone {chosen['backbone']}, {chosen['folds']} folds")
    options = AuditOptions(backbone=chosen["backbone"] or "auto", folds=chosen["folds"] or 5, epochs=epochs,
                           seed=seed, device=device.value, rank_method=rank_method, filter_by=filter_by)
    with ProgressDisplay(err, enabled=not quiet) as progress:
        if server:
            from labelaudit.check.remote import remote_audit

            def audit_fn():
                return remote_audit(server, api_key=api_key, path=path, dataset_id=dataset_id, labels=labels,
                                    label_column=label_column, id_column=id_column,
                                    format=format.value if format else None, options=options, progress=progress,
                                    upload_progress=progress.upload)
        else:
            dataset = _load(path, format, label_column, labels, id_column, options.folds)

            def audit_fn():
                return local_audit(dataset, options, pred_probs_path=pred_probs, progress=progress)

        outcome = run_gate(policy, audit_fn, notes=notes)
    try:
        write_reports(outcome, junit=junit, json_path=json_out, markdown_path=markdown_out)
    except OSError as exc:
        _fail(f"cannot write a report: {exc}")
    print_rules(out, outcome)
    raise typer.Exit(outcome.exit_code)


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (LABELAUDIT_HOST)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (LABELAUDIT_PORT)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="In-process audit workers (LABELAUDIT_WORKERS)."),
) -> None:
    """Run the HTTP API (and, by default, an in-process audit worker)."""
    from labelaudit.config import get_settings

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    from labelaudit.main import serve as run_server

    run_server(get_settings(**overrides))  # serve() sets up the JSON logs


@app.command()
def worker() -> None:
    """Run an audit worker that claims jobs from the service's database."""
    from labelaudit.config import get_settings

    from labelaudit.jobs.worker import run_worker, warm_imports
    from labelaudit.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    warm_imports()
    run_worker(settings)


def _write_json(path: Path, data: dict) -> None:
    try:
        with open(path, "w") as fh:
            json.dump(data, fh, indent=1, allow_nan=False)
    except OSError as exc:
        _fail(f"--json: cannot write {path}: {exc.strerror}")


def _write_rows_csv(path: Path, result, top: Optional[int]) -> None:
    import csv

    rows = list(result.rows(top))
    try:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) if rows else ["rank"])
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        _fail(f"--csv: cannot write {path}: {exc.strerror}")


keys_app = typer.Typer(help="Manage API keys (used when LABELAUDIT_REQUIRE_API_KEY is on).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(name: str = typer.Option(..., "--name", help="Who the key is for, e.g. team-a."),
                tenant: Optional[str] = typer.Option(
                    None, "--tenant", help="Whose data the key opens (default: the name). Keys of one tenant share "
                                           "its datasets and audits; other tenants' are invisible (404).")) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from labelaudit.config import get_settings
    from labelaudit.store.apikeys import create_api_key
    from labelaudit.store.db import open_database

    try:
        rec, plain = create_api_key(open_database(get_settings()), name, tenant)
    except LabelAuditError as exc:
        _fail(str(exc))
    err.print(f"created key {rec.id} ({rec.name}, tenant {rec.tenant}); store it now, it is not shown again:")
    print(plain)


@keys_app.command("list")
def keys_list(all_keys: bool = typer.Option(False, "--all", help="Include revoked keys.")) -> None:
    """List keys: id, name, prefix, created, last used, revoked."""
    from labelaudit.config import get_settings
    from labelaudit.store.apikeys import list_api_keys
    from labelaudit.store.db import open_database

    for k in list_api_keys(open_database(get_settings()), include_revoked=all_keys):
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
        revoked = f"  revoked {k.revoked_at.isoformat(timespec='seconds')}" if k.revoked_at else ""
        print(f"{k.id}\t{k.name}\ttenant {k.tenant}\t{k.prefix}…\tcreated {k.created_at.isoformat(timespec='seconds')}"
              f"\tlast used {used}{revoked}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key id from `labelaudit keys list`.")) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    from labelaudit.config import get_settings
    from labelaudit.store.apikeys import revoke_api_key
    from labelaudit.store.db import open_database

    try:
        revoke_api_key(open_database(get_settings()), key_id)
    except LabelAuditError as exc:
        _fail(str(exc))
    err.print(f"revoked {key_id}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="labelaudit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
