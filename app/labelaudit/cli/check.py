"""``labelaudit check``: the CI data-quality gate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelaudit.audit.constants import DEFAULT_DEVICE, DEFAULT_FILTER_BY, DEFAULT_RANK_METHOD, DEFAULT_SEED
from labelaudit.cli.common import err, fail, guard, load_input, out
from labelaudit.vocab import BackboneName, Device, FilterBy, InputFormat, RankMethod

CHECK_HELP = """Fail a CI build when a dataset's labels look worse than the policy allows.

Exit codes: 0 pass, 1 policy violated, 2 usage or input error (bad file, bad flag), 3 the audit failed.
Policy rules come from flags, labelaudit.toml, or \\[tool.labelaudit] in pyproject.toml; flags win.
"""


@guard
def check(
    path: Optional[Path] = typer.Argument(None, help="Dataset file (any `audit` input), or omit with --dataset-id."),
    dataset_id: Optional[str] = typer.Option(None, "--dataset-id", help="A dataset already on --server."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX images or pred_probs .npy."),
    label_column: str = typer.Option("label", "--label-column"),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Stable example key for --baseline matching "
                                            "(else a hash of each example's content)."),
    format: Optional[InputFormat] = typer.Option(None, "--format"),
    backbone: Optional[BackboneName] = typer.Option(None, "--backbone"),
    folds: Optional[int] = typer.Option(None, "--folds", min=2, max=50),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    seed: int = typer.Option(DEFAULT_SEED, "--seed"),
    device: Device = typer.Option(DEFAULT_DEVICE, "--device"),
    rank_method: RankMethod = typer.Option(DEFAULT_RANK_METHOD, "--rank-method"),
    filter_by: FilterBy = typer.Option(DEFAULT_FILTER_BY, "--filter-by"),
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
                                          "else \\[tool.labelaudit] in ./pyproject.toml)."),
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
        fail("give a dataset PATH, or --dataset-id with --server")
    if dataset_id is not None and server is None:
        fail("--dataset-id needs --server")
    chosen = {"backbone": backbone.value if backbone else None, "folds": folds}
    if fast:
        chosen = {k: v if v is not None else FAST_SETTINGS[k] for k, v in chosen.items()}
        notes.append(f"--fast: backbone {chosen['backbone']}, {chosen['folds']} folds")
    options = AuditOptions(backbone=chosen["backbone"] or "auto", folds=chosen["folds"] or 5, epochs=epochs,
                           seed=seed, device=device.value, rank_method=rank_method.value, filter_by=filter_by.value)
    with ProgressDisplay(err, enabled=not quiet) as progress:
        if server:
            from labelaudit.check.remote import remote_audit

            def audit_fn():
                return remote_audit(server, api_key=api_key, path=path, dataset_id=dataset_id, labels=labels,
                                    label_column=label_column, id_column=id_column,
                                    format=format.value if format else None, options=options, progress=progress,
                                    upload_progress=progress.upload)
        else:
            dataset = load_input(path, format, label_column, labels, id_column, options.folds)

            def audit_fn():
                return local_audit(dataset, options, pred_probs_path=pred_probs, progress=progress)

        outcome = run_gate(policy, audit_fn, notes=notes)
    try:
        write_reports(outcome, junit=junit, json_path=json_out, markdown_path=markdown_out)
    except OSError as exc:
        fail(f"cannot write a report: {exc}")
    print_rules(out, outcome)
    raise typer.Exit(outcome.exit_code)
