"""Reports of a gate run: JUnit XML, Markdown and JSON, for CI systems and people."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from labelaudit.check.policy import RuleResult


def junit_xml(results: list[RuleResult], *, summary: dict, seconds: float, suite: str = "labelaudit") -> str:
    """One ``<testcase>`` per policy rule; a failure carries the measured value and the limit.

    With no rules set there is one passing ``audit`` test case, so CI still sees the step.
    """
    failures = sum(not r.passed for r in results)
    cases = results or []
    root = ET.Element("testsuites", name=suite, tests=str(max(len(cases), 1)), failures=str(failures), errors="0",
                      time=f"{seconds:.3f}")
    ts = ET.SubElement(root, "testsuite", name=f"{suite}.policy", tests=str(max(len(cases), 1)),
                       failures=str(failures), errors="0", skipped="0", time=f"{seconds:.3f}")
    props = ET.SubElement(ts, "properties")
    for key in ("num_examples", "num_issues", "issue_rate", "health_score", "backbone"):
        ET.SubElement(props, "property", name=key, value=str(summary.get(key)))
    if not cases:
        ET.SubElement(ts, "testcase", classname=f"{suite}.policy", name="audit", time=f"{seconds:.3f}")
    for r in cases:
        tc = ET.SubElement(ts, "testcase", classname=f"{suite}.policy", name=r.rule, time="0")
        if not r.passed:
            failure = ET.SubElement(tc, "failure", message=r.message, type="PolicyViolation")
            failure.text = f"{r.rule}: measured {r.measured:g}, limit {r.limit:g}\n{r.message}"
        else:
            ET.SubElement(tc, "system-out").text = r.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def markdown(results: list[RuleResult], *, summary: dict, verdict: str, notes: list[str]) -> str:
    """A short table for a CI job summary (e.g. ``$GITHUB_STEP_SUMMARY``)."""
    icon = {"pass": "✅", "fail": "❌"}.get(verdict, "")
    lines = [f"### labelaudit check: {icon} {verdict}", "",
             f"{summary['num_examples']:,} examples, {summary['num_classes']} classes; "
             f"**{summary['num_issues']:,} label issues ({summary['issue_rate']:.2%})**, "
             f"health score {summary['health_score']:.3f}.", ""]
    if results:
        lines += ["| rule | measured | limit | result |", "|---|---|---|---|"]
        for r in results:
            lines.append(f"| `{r.rule}` | {_num(r.measured)} | {_num(r.limit)} | {'pass' if r.passed else '**fail**'} |")
    else:
        lines.append("No policy rules set: reporting only.")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}"


def write_text(path: Path, text: str, *, append: bool = False) -> None:
    with open(path, "a" if append else "w", encoding="utf-8") as fh:
        fh.write(text)


def write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, allow_nan=False)
