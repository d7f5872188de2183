"""Run the gate: audit (here or on a server), apply the policy, write the reports, pick the exit code."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from labelaudit.check.baseline import load_baseline_keys, new_issue_rows
from labelaudit.check.policy import Policy, RuleResult, evaluate_policy
from labelaudit.check.reports import error_junit_xml, error_markdown, junit_xml, markdown, write_json, write_text

EXIT_PASS, EXIT_VIOLATION = 0, 1

#: What ``--fast`` means: the cheapest settings that still give sound out-of-sample probabilities.
FAST_SETTINGS = {"backbone": "logreg", "folds": 3, "ensemble": 1}


@dataclass(frozen=True)
class AuditOutput:
    """What an audit for the gate gives, here or on a server: the summary, every row (with its example key),
    the evaluation against true labels (or ``None``), the options used and the dataset it audited
    (``name``, ``rows``, ``classes``, ``sha256`` of the file, and ``path`` or the server's ``id``)."""

    summary: dict
    rows: list[dict]
    evaluation: dict | None
    options: dict
    dataset: dict
    #: keys of the examples a reviewer decided ``keep`` on the server (``--server-decisions``), else ``None``
    kept_keys: frozenset[str] | None = None


@dataclass
class GateOutcome:
    """A finished gate run: the audit's summary and rows, each rule's result, the verdict."""

    summary: dict
    rows: list[dict]
    results: list[RuleResult]
    policy: Policy
    new_issues: list[dict] | None
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
            "exit_code": self.exit_code,
            "policy": self.policy.model_dump(mode="json", exclude_none=True),
            "rules": [r.to_dict() for r in self.results],
            "new_issues": None if self.new_issues is None else [r["example_key"] for r in self.new_issues],
            "new_issue_rows": self.new_issues,
            "notes": self.notes,
            "dataset": self.dataset,
            "options": self.options,
            "summary": self.summary,
            "evaluation": self.evaluation,
            "seconds": self.seconds,
            "issues": self.rows,
        }


def dataset_info(path: Path | None, dataset=None, **extra) -> dict:
    """What the reports say of the audited dataset: its file's name, path and sha256, and its size."""
    from labelaudit.core.keys import file_sha256

    info: dict = {"name": path.name if path else None, "path": str(path) if path else None,
                  "sha256": file_sha256(path) if path and path.is_file() else None}
    if dataset is not None:
        info.update(rows=dataset.num_examples, classes=dataset.num_classes)
    return {**info, **extra}


def local_audit(dataset, options, *, pred_probs_path: Path | None, progress, source: dict,
                reference=None) -> AuditOutput:
    """Audit in this process; ``source`` is :func:`dataset_info` of the file the dataset came from;
    ``reference``: trusted data trained on beside it (:mod:`labelaudit.core.reference`)."""
    from labelaudit.core.ingest import from_pred_probs, read_npy
    from labelaudit.core.keys import example_keys
    from labelaudit.core.pipeline import run_audit
    from labelaudit.services.executors import executor_from_settings

    if pred_probs_path is not None:
        checked = from_pred_probs(read_npy(pred_probs_path, field="pred_probs"), dataset.labels,
                                  class_names=dataset.class_names if dataset.modality != "pred_probs" else None)
        dataset = replace(dataset, modality="pred_probs", pred_probs=checked.pred_probs)
    # a pred_probs audit trains nothing, so it needs no executor (nor Ray)
    executor = executor_from_settings() if dataset.modality != "pred_probs" else None
    result = run_audit(dataset, options, progress=progress, executor=executor, reference=reference)
    keys = example_keys(dataset)
    rows = []
    for row in result.rows():
        row["example_key"] = str(keys[row["index"]])
        rows.append(row)
    return AuditOutput(summary=result.summary(), rows=rows, evaluation=result.evaluation,
                       options={**options.to_dict(), "timings": result.timings}, dataset=source)


def decide(policy: Policy, summary: dict, rows: list[dict], *, notes: list[str],
           kept: frozenset[str] | None = None) -> tuple[list[RuleResult], list[dict] | None]:
    """Apply the policy (and the baseline comparison when asked) to an audit's results; the new issues' rows.

    Examples a reviewer decided ``keep`` (``policy.decisions``, or ``kept`` keys fetched from
    the server) are accepted like the baseline's: they are never new issues.
    """
    new = None
    accepted = set(kept or ())
    if policy.decisions is not None:
        from labelaudit.check.accepted import accepted_keys, load_kept

        accepted |= accepted_keys(rows, *load_kept(policy.decisions))
    if kept is not None or policy.decisions is not None:
        notes.append(f"review decisions: {len(accepted)} examples decided keep, accepted")
    if policy.baseline is not None or kept is not None or policy.decisions is not None:
        baseline = load_baseline_keys(policy.baseline) if policy.baseline is not None else set()
        new = new_issue_rows(rows, baseline | accepted)
        if policy.baseline is not None:
            notes.append(f"baseline {policy.baseline}: {len(baseline)} accepted issues, {len(new)} new")
    elif policy.max_new_issues is not None:
        notes.append("max_new_issues is set but no --baseline was given: every issue counts as new")
        new = [r for r in rows if r["is_issue"]]
    return evaluate_policy(policy, summary, new_issues=new), new


def run_gate(policy: Policy, audit_fn, *, notes: list[str]) -> GateOutcome:
    """Run ``audit_fn() -> AuditOutput`` and judge it."""
    start = time.perf_counter()
    audit = audit_fn()
    results, new = decide(policy, audit.summary, audit.rows, notes=notes, kept=audit.kept_keys)
    if not policy.rules() and policy.baseline is None:
        notes.append("no policy rules set: reporting only")
    return GateOutcome(summary=audit.summary, rows=audit.rows, results=results, policy=policy, new_issues=new,
                       notes=notes, evaluation=audit.evaluation, options=audit.options, dataset=audit.dataset,
                       seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class ReportPaths:
    """Where the reports go (each optional); the Markdown also to ``$GITHUB_STEP_SUMMARY`` when it is set."""

    junit: Path | None = None
    json: Path | None = None
    markdown: Path | None = None

    def write(self, *, junit: str, data: dict, md: str) -> None:
        """Write each asked-for report."""
        if self.junit:
            write_text(self.junit, junit)
        if self.json:
            write_json(self.json, data)
        if self.markdown:
            write_text(self.markdown, md)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            write_text(Path(step_summary), md, append=True)


def write_reports(outcome: GateOutcome, paths: ReportPaths) -> None:
    """The reports of a finished gate run."""
    paths.write(junit=junit_xml(outcome), data=outcome.to_dict(), md=markdown(outcome))


def write_error_reports(paths: ReportPaths, error: dict, *, exit_code: int, dataset: dict | None,
                        notes: list[str]) -> None:
    """The reports of a gate run that could not judge: the input was bad (exit 2) or the audit failed (exit 3).

    ``error`` is ``{code, field, message}``. JUnit gets one ``<error>`` test case, so a CI
    system shows the reason on the build page.
    """
    data = {"verdict": "error", "exit_code": exit_code, "error": error, "dataset": dataset, "notes": notes}
    paths.write(junit=error_junit_xml(error, exit_code=exit_code), data=data,
                md=error_markdown(error, exit_code=exit_code, dataset=dataset))
