"""Run the gate: audit (here or on a server), apply the policy, write the reports, pick the exit code."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from labelaudit.check.baseline import load_baseline_keys, new_issue_keys
from labelaudit.check.policy import Policy, RuleResult, evaluate_policy
from labelaudit.check.reports import junit_xml, markdown, write_json, write_text

EXIT_PASS, EXIT_VIOLATION = 0, 1

#: What ``--fast`` means: the cheapest settings that still give sound out-of-sample probabilities.
FAST_SETTINGS = {"backbone": "logreg", "folds": 3}


@dataclass
class GateOutcome:
    """A finished gate run: the audit's summary and rows, each rule's result, the verdict."""

    summary: dict
    rows: list[dict]
    results: list[RuleResult]
    policy: Policy
    new_issues: list[str] | None
    notes: list[str] = field(default_factory=list)
    evaluation: dict | None = None
    options: dict | None = None
    dataset: dict | None = None
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "fail" if any(not r.passed for r in self.results) else "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_VIOLATION if self.verdict == "fail" else EXIT_PASS

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "policy": self.policy.model_dump(mode="json", exclude_none=True),
            "rules": [r.to_dict() for r in self.results],
            "new_issues": self.new_issues,
            "notes": self.notes,
            "dataset": self.dataset,
            "options": self.options,
            "summary": self.summary,
            "evaluation": self.evaluation,
            "seconds": self.seconds,
            "issues": self.rows,
        }


def local_audit(dataset, options, *, pred_probs_path: Path | None, progress) -> tuple[dict, list[dict], dict, dict]:
    """Audit in this process; return summary, rows with example keys, evaluation, options."""
    from labelaudit.audit.ingest import from_pred_probs, read_npy
    from labelaudit.audit.keys import example_keys
    from labelaudit.audit.pipeline import run_audit
    from labelaudit.services.executors import executor_from_settings

    if pred_probs_path is not None:
        checked = from_pred_probs(read_npy(pred_probs_path, field="pred_probs"), dataset.labels,
                                  class_names=dataset.class_names if dataset.modality != "pred_probs" else None)
        dataset = replace(dataset, modality="pred_probs", pred_probs=checked.pred_probs)
    # a pred_probs audit trains nothing, so it needs no executor (nor Ray)
    executor = executor_from_settings() if dataset.modality != "pred_probs" else None
    result = run_audit(dataset, options, progress=progress, executor=executor)
    keys = example_keys(dataset)
    rows = []
    for row in result.rows():
        row["example_key"] = str(keys[row["index"]])
        rows.append(row)
    return result.summary(), rows, result.evaluation, {**options.to_dict(), "timings": result.timings}


def decide(policy: Policy, summary: dict, rows: list[dict], *, notes: list[str]) -> tuple[list[RuleResult], list | None]:
    """Apply the policy (and the baseline comparison when asked) to an audit's results."""
    new = None
    if policy.baseline is not None:
        baseline = load_baseline_keys(policy.baseline)
        new = new_issue_keys(rows, baseline)
        notes.append(f"baseline {policy.baseline}: {len(baseline)} accepted issues, {len(new)} new")
    elif policy.max_new_issues is not None:
        notes.append("max_new_issues is set but no --baseline was given: every issue counts as new")
        new = [r["example_key"] for r in rows if r["is_issue"]]
    results = evaluate_policy(policy, summary, new_issues=None if new is None else len(new))
    return results, new


def write_reports(outcome: GateOutcome, *, junit: Path | None, json_path: Path | None,
                  markdown_path: Path | None) -> None:
    """Write each asked-for report; append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when set."""
    if junit:
        write_text(junit, junit_xml(outcome.results, summary=outcome.summary, seconds=outcome.seconds))
    if json_path:
        write_json(json_path, outcome.to_dict())
    md = markdown(outcome.results, summary=outcome.summary, verdict=outcome.verdict, notes=outcome.notes)
    if markdown_path:
        write_text(markdown_path, md)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        write_text(Path(step_summary), md, append=True)


def run_gate(policy: Policy, audit_fn, *, notes: list[str]) -> GateOutcome:
    """Run ``audit_fn() -> (summary, rows, evaluation, options)`` and judge it."""
    start = time.perf_counter()
    summary, rows, evaluation, options = audit_fn()
    results, new = decide(policy, summary, rows, notes=notes)
    if not policy.rules() and policy.baseline is None:
        notes.append("no policy rules set: reporting only")
    return GateOutcome(summary=summary, rows=rows, results=results, policy=policy, new_issues=new, notes=notes,
                       evaluation=evaluation, options=options, seconds=time.perf_counter() - start)
