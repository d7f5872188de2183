"""``labelaudit check``: the CI data-quality gate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelaudit.core.constants import (
    DEFAULT_DEVICE,
    DEFAULT_FILTER_BY,
    DEFAULT_FOLDS,
    DEFAULT_LABEL_COLUMN,
    DEFAULT_RANK_METHOD,
    DEFAULT_SEED,
    MAX_ENSEMBLE,
    MAX_EPOCHS,
    MAX_FOLDS,
    MAX_SEED,
)
from labelaudit.cli.common import (
    CATEGORICAL,
    DROP_COLUMNS,
    FEATURES,
    TEXT,
    closed_pipe,
    column_roles,
    err,
    fail,
    guard,
    load_input,
    load_reference,
    out,
)
from labelaudit.errors import EXIT_FAILED, OptionError
from labelaudit.vocab import BackboneName, Device, FilterBy, InputFormat, RankMethod

CHECK_HELP = """Fail a CI build when a dataset's labels look worse than the policy allows.

Exit codes: 0 pass, 1 policy violated, 2 usage or input error (bad file, bad flag), 3 the audit failed.
Policy rules and data options come from flags, labelaudit.toml, or \\[tool.labelaudit] in pyproject.toml;
flags win. The --junit, --json and --markdown reports are written whatever the exit code.
"""


@guard
def check(
    path: Optional[Path] = typer.Argument(None, help="Dataset file (any `audit` input), or omit with --dataset-id."),
    dataset_id: Optional[str] = typer.Option(None, "--dataset-id", help="A dataset already on --server."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX images or pred_probs .npy."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="Label column of a table "
                                               "(default: label)."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Stable example key for --baseline matching "
                                            "(else a hash of each example's content)."),
    format: Optional[InputFormat] = typer.Option(None, "--format"),
    features: Optional[list[str]] = FEATURES,
    drop_columns: Optional[list[str]] = DROP_COLUMNS,
    categorical: Optional[list[str]] = CATEGORICAL,
    text: Optional[list[str]] = TEXT,
    backbone: Optional[BackboneName] = typer.Option(None, "--backbone"),
    folds: Optional[int] = typer.Option(None, "--folds", min=2, max=MAX_FOLDS),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, max=MAX_EPOCHS),
    ensemble: Optional[int] = typer.Option(None, "--ensemble", min=1, max=MAX_ENSEMBLE,
                                           help="Models per fold, averaged (default: the backbone's choice)."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", min=0, max=MAX_SEED),
    device: Device = typer.Option(DEFAULT_DEVICE, "--device"),
    rank_method: RankMethod = typer.Option(DEFAULT_RANK_METHOD, "--rank-method"),
    filter_by: FilterBy = typer.Option(DEFAULT_FILTER_BY, "--filter-by"),
    fast: bool = typer.Option(False, "--fast", help="Cheapest sound settings: logistic regression, 3 folds, one model."),
    pred_probs: Optional[Path] = typer.Option(None, "--pred-probs", help="Your out-of-sample pred_probs (.npy): "
                                              "skip training."),
    max_issue_rate: Optional[float] = typer.Option(None, "--max-issue-rate", min=0, max=1),
    max_class_issue_rate: Optional[float] = typer.Option(None, "--max-class-issue-rate", min=0, max=1),
    min_health_score: Optional[float] = typer.Option(None, "--min-health-score", min=0, max=1),
    max_issues: Optional[int] = typer.Option(None, "--max-issues", min=0),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="An accepted earlier --json report."),
    decisions: Optional[Path] = typer.Option(None, "--decisions", help="Review decisions (JSON, e.g. saved from "
                                             "Client.decisions): examples decided keep are accepted, never new."),
    server_decisions: bool = typer.Option(False, "--server-decisions", help="With --server: the examples the "
                                          "tenant's reviewers decided keep are accepted, never new."),
    max_new_issues: Optional[int] = typer.Option(None, "--max-new-issues", min=0,
                                                 help="Issues not in --baseline allowed (default 0 with a baseline)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Policy file (default: ./labelaudit.toml, "
                                          "else \\[tool.labelaudit] in ./pyproject.toml)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML: one test case per rule."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full result + policy + verdict."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary "
                                                "(also appended to $GITHUB_STEP_SUMMARY when set)."),
    server: Optional[str] = typer.Option(None, "--server", help="Audit on a running labelaudit service."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="LABELAUDIT_API_KEY"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="Trusted labelled data of the same kind "
                                             "whose rows join every fold's training part (local audits only)."),
    reference_labels: Optional[Path] = typer.Option(None, "--reference-labels",
                                                    help="Labels file of IDX --reference images."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    args = dict(locals())  # every option, by name, for the helpers below
    from labelaudit.check.gate import ReportPaths

    reports = ReportPaths(junit=junit, json=json_out, markdown=markdown_out)
    notes: list[str] = []
    source: dict | None = None
    try:
        policy, data, source, notes = _settle(args)
        outcome = _run(policy, data, source, notes, args)
    except BaseException as exc:
        _report_error(reports, exc, dataset=source, notes=notes)
        raise
    try:
        from labelaudit.check.gate import write_reports

        write_reports(outcome, reports)
    except OSError as exc:
        fail(f"cannot write a report: {exc}")
    from labelaudit.console import print_rules

    try:
        print_rules(out, outcome)
    except BrokenPipeError:  # piped into `head`: the verdict still decides the exit code
        closed_pipe()
    raise typer.Exit(outcome.exit_code)


def _settle(args: dict):
    """The policy, the data options, what the reports say of the dataset, and the first notes."""
    from labelaudit.check.gate import dataset_info
    from labelaudit.check.policy import load_config

    flags = {k: args[k] for k in ("max_issue_rate", "max_class_issue_rate", "min_health_score", "max_issues",
                                  "max_new_issues", "baseline", "decisions")}
    data_flags = {"label_column": args["label_column"], "id_column": args["id_column"],
                  "format": args["format"], "labels": args["labels"]}
    for key in ("features", "drop_columns", "categorical", "text"):  # comma-separated or repeated
        if args[key]:
            data_flags[key] = [n.strip() for v in args[key] for n in v.split(",") if n.strip()]
    policy, data, policy_source = load_config(flags, data_flags, config=args["config"])
    notes = [f"policy from {policy_source} (flags win)"] if policy_source else []
    path, dataset_id, server = args["path"], args["dataset_id"], args["server"]
    if path is None and dataset_id is None:
        raise OptionError("give a dataset PATH, or --dataset-id with --server", field="path")
    if dataset_id is not None and server is None:
        raise OptionError("--dataset-id needs --server", field="dataset_id")
    if args["reference"] is not None and (server is not None or args["pred_probs"] is not None):
        raise OptionError("--reference trains beside the audited data: it works for local audits without "
                          "--pred-probs (on a server, pass reference_dataset_id to POST /v1/audits)",
                          field="reference")
    if args["server_decisions"] and server is None:
        raise OptionError("--server-decisions needs --server", field="server_decisions")
    source = dataset_info(path, id=dataset_id) if path is not None else {"id": dataset_id}
    return policy, data, source, notes


def _run(policy, data, source: dict, notes: list[str], args: dict):
    """Audit (here or on the server) and judge."""
    from labelaudit.core.pipeline import AuditOptions
    from labelaudit.check.gate import FAST_SETTINGS, local_audit, run_gate
    from labelaudit.console import ProgressDisplay

    chosen = {"backbone": args["backbone"].value if args["backbone"] else None, "folds": args["folds"],
              "ensemble": args["ensemble"]}
    if args["fast"]:
        chosen = {k: v if v is not None else FAST_SETTINGS[k] for k, v in chosen.items()}
        notes.append(f"--fast: backbone {chosen['backbone']}, {chosen['folds']} folds")
    options = AuditOptions(backbone=chosen["backbone"] or "auto", folds=chosen["folds"] or DEFAULT_FOLDS,
                           epochs=args["epochs"], ensemble=chosen["ensemble"], seed=args["seed"],
                           device=args["device"].value,
                           rank_method=args["rank_method"].value, filter_by=args["filter_by"].value)
    label_column = data.label_column or DEFAULT_LABEL_COLUMN
    fmt = data.format.value if data.format else None
    path = args["path"]
    with ProgressDisplay(err, enabled=not args["quiet"]) as progress:
        if args["server"]:
            from labelaudit.check.remote import remote_audit

            def audit_fn():
                return remote_audit(args["server"], api_key=args["api_key"], path=path,
                                    dataset_id=args["dataset_id"], labels=data.labels, label_column=label_column,
                                    id_column=data.id_column, format=fmt, options=options, progress=progress,
                                    upload_progress=progress.upload, kept_from_server=args["server_decisions"],
                                    roles=data.roles())
        else:
            dataset = load_input(path, data.format, label_column, data.labels, data.id_column, options.folds,
                                 roles=column_roles(**data.roles()))
            source.update(rows=dataset.num_examples, classes=dataset.num_classes)
            reference = None if args["reference"] is None else load_reference(
                args["reference"], dataset, label_column, args["reference_labels"], data.id_column)

            def audit_fn():
                return local_audit(dataset, options, pred_probs_path=args["pred_probs"], progress=progress,
                                   source=source, reference=reference)

        return run_gate(policy, audit_fn, notes=notes)


def _report_error(reports, exc: BaseException, *, dataset: dict | None, notes: list[str]) -> None:
    """Write the reports of a run that could not judge; a report that cannot be written is left out."""
    from labelaudit.check.gate import write_error_reports
    from labelaudit.errors import LabelAuditError, exit_code

    if isinstance(exc, LabelAuditError):
        error, code = exc.to_dict(), exit_code(exc)
    elif isinstance(exc, KeyboardInterrupt):
        error, code = {"code": "interrupted", "field": None, "message": "interrupted"}, EXIT_FAILED
    else:
        error = {"code": "internal_error", "field": None, "message": f"{type(exc).__name__}: {exc}"}
        code = EXIT_FAILED
    try:
        write_error_reports(reports, error, exit_code=code, dataset=dataset, notes=notes)
    except OSError:
        pass
