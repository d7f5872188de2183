"""Reports of a gate run: JUnit XML, Markdown and JSON, for CI systems and people.

They say what a reviewer acts on: the dataset (name, size, content hash), each
rule with the measured value and the limit, every class over the per-class limit,
and the issues not in the baseline (key, given -> suggested label, score). A run
that could not judge (bad input, failed audit) still writes every report, with
the error.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

#: Details (new issues, failing classes) listed per rule in the Markdown summary; JUnit and JSON list more.
MARKDOWN_DETAILS = 20
JUNIT_DETAILS = 200
SUITE = "labelaudit"


def junit_xml(outcome) -> str:
    """One ``<testcase>`` per policy rule; a failure carries the measured value, the limit and the details.

    With no rules set there is one passing ``audit`` test case, so CI still sees the step.
    """
    results, summary, seconds = outcome.results, outcome.summary, outcome.seconds
    failures = sum(not r.passed for r in results)
    root, suite = _suites(tests=max(len(results), 1), failures=failures, errors=0, seconds=seconds)
    props = ET.SubElement(suite, "properties")
    for key in ("num_examples", "num_issues", "issue_rate", "health_score", "backbone"):
        ET.SubElement(props, "property", name=key, value=str(summary.get(key)))
    for key, value in (outcome.dataset or {}).items():
        ET.SubElement(props, "property", name=f"dataset.{key}", value=str(value))
    if not results:
        ET.SubElement(suite, "testcase", classname=f"{SUITE}.policy", name="audit", time=f"{seconds:.3f}")
    for r in results:
        tc = ET.SubElement(suite, "testcase", classname=f"{SUITE}.policy", name=r.rule, time="0")
        if not r.passed:
            failure = ET.SubElement(tc, "failure", message=r.message, type="PolicyViolation")
            failure.text = "\n".join([f"{r.rule}: measured {r.measured:g}, limit {r.limit:g}", r.message,
                                      *_listed(r.details, JUNIT_DETAILS)])
        else:
            ET.SubElement(tc, "system-out").text = r.message
    return _xml(root)


def error_junit_xml(error: dict, *, exit_code: int) -> str:
    """One ``audit`` test case in ``<error>``: the input was bad (exit 2) or the audit failed (exit 3)."""
    root, suite = _suites(tests=1, failures=0, errors=1, seconds=0.0)
    tc = ET.SubElement(suite, "testcase", classname=f"{SUITE}.policy", name="audit", time="0")
    kind = "InputError" if exit_code == 2 else "AuditFailed"
    err = ET.SubElement(tc, "error", message=_error_line(error), type=kind)
    err.text = f"{_error_line(error)}\ncode: {error.get('code')}\nexit code: {exit_code}"
    return _xml(root)


def markdown(outcome) -> str:
    """A short summary for a CI job page (e.g. ``$GITHUB_STEP_SUMMARY``)."""
    summary, verdict = outcome.summary, outcome.verdict
    icon = {"pass": "✅", "fail": "❌"}.get(verdict, "")
    lines = [f"### labelaudit check: {icon} {verdict}", ""]
    if outcome.dataset:
        lines += [_dataset_line(outcome.dataset), ""]
    lines += [f"{summary['num_examples']:,} examples, {summary['num_classes']} classes; "
              f"**{summary['num_issues']:,} label issues ({summary['issue_rate']:.2%})**, "
              f"health score {summary['health_score']:.3f}.", ""]
    if outcome.results:
        lines += ["| rule | measured | limit | result |", "|---|---|---|---|"]
        for r in outcome.results:
            lines.append(f"| `{r.rule}` | {_num(r.measured)} | {_num(r.limit)} | {'pass' if r.passed else '**fail**'} |")
        for r in outcome.results:
            if not r.passed and r.details:
                lines += ["", f"**{r.rule}**:", *(f"- {d}" for d in _listed(r.details, MARKDOWN_DETAILS))]
    else:
        lines.append("No policy rules set: reporting only.")
    lines += [""] + [f"- {n}" for n in outcome.notes]
    return "\n".join(lines).rstrip() + "\n"


def error_markdown(error: dict, *, exit_code: int, dataset: dict | None) -> str:
    """The summary of a run that could not judge, with the reason."""
    what = "bad input" if exit_code == 2 else "the audit failed"
    lines = [f"### labelaudit check: ⚠️ error ({what}, exit {exit_code})", ""]
    if dataset:
        lines += [_dataset_line(dataset), ""]
    lines.append(f"`{error.get('code')}`: {_error_line(error)}")
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str, *, append: bool = False) -> None:
    """Write (or append) ``text`` to ``path``."""
    with open(path, "a" if append else "w", encoding="utf-8") as fh:
        fh.write(text)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON (no NaN)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, allow_nan=False)


def _suites(*, tests: int, failures: int, errors: int, seconds: float):
    counts = {"tests": str(tests), "failures": str(failures), "errors": str(errors), "time": f"{seconds:.3f}"}
    root = ET.Element("testsuites", name=SUITE, **counts)
    suite = ET.SubElement(root, "testsuite", name=f"{SUITE}.policy", skipped="0", **counts)
    return root, suite


def _xml(root) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _listed(details, limit: int) -> list[str]:
    shown = list(details[:limit])
    if len(details) > limit:
        shown.append(f"... and {len(details) - limit} more (all in the JSON report)")
    return shown


def _dataset_line(dataset: dict) -> str:
    parts = [f"dataset **{dataset.get('name') or dataset.get('id')}**"]
    if dataset.get("rows") is not None:
        parts.append(f"{dataset['rows']:,} rows, {dataset.get('classes')} classes")
    if dataset.get("sha256"):
        parts.append(f"sha256 `{dataset['sha256'][:16]}…`")
    return "; ".join(parts)


def _error_line(error: dict) -> str:
    return f"{error['field']}: {error['message']}" if error.get("field") else str(error.get("message"))


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}"
