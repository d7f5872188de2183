"""Terminal output of the CLI: a progress display and the audit summary."""

from __future__ import annotations

import os
import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labelaudit.core.progress import Progress

#: Details of a failed rule (classes over the limit, new issues) printed on screen; the reports hold them all.
SHOWN_DETAILS = 10


def interactive(stream=None) -> bool:
    """A live progress bar only on a terminal outside CI; plain lines otherwise."""
    stream = stream or sys.stderr
    return stream.isatty() and not os.environ.get("CI")


class ProgressDisplay:
    """Shows audit progress: a rich bar on a terminal, throttled plain lines elsewhere.

    Use as a context manager and pass the instance as the ``progress`` callback.
    """

    def __init__(self, console: Console, *, enabled: bool = True, live: bool | None = None):
        self.console = console
        self.enabled = enabled
        self.live = interactive(console.file) if live is None else live
        self._bar = None
        self._task = None
        self._last_line = 0.0
        self._last_fold = None
        self._upload_task = None
        self._upload_line = 0.0
        self._upload_started = 0.0

    def __enter__(self) -> "ProgressDisplay":
        if self.enabled and self.live:
            from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=self.console,
                            transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("auditing", total=1.0, detail="")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        text = p.message or p.stage
        if self._bar is not None:
            self._bar.update(self._task, completed=p.fraction, description=text)
            return
        now = time.monotonic()
        # plain mode: one line per fold, per stage change, and at most one every 5 s otherwise
        if p.fold != self._last_fold or p.stage != "training" or now - self._last_line > 5:
            self.console.print(f"[{p.fraction * 100:5.1f}%] {text}", highlight=False)
            self._last_line = now
            self._last_fold = p.fold


    def upload(self, sent: int, total: int) -> None:
        """Upload progress (``bytes sent, total bytes``): a second bar with sizes and speed; plain lines
        at most every 5 s and at the end."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not self._upload_started:
            self._upload_started = now
        elapsed = max(now - self._upload_started, 1e-9)
        detail = f"{_size(sent)} of {_size(total)}, {_size(sent / elapsed)}/s"
        if self._bar is not None:
            if self._upload_task is None:
                self._upload_task = self._bar.add_task("uploading", total=max(total, 1), detail=detail)
            self._bar.update(self._upload_task, completed=sent, detail=detail)
            return
        if sent >= total or now - self._upload_line > 5:
            self.console.print(f"[{sent / max(total, 1) * 100:5.1f}%] uploading: {detail}", highlight=False)
            self._upload_line = now


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def print_summary(console: Console, result, *, top: int = 10) -> None:
    """The human summary of an :class:`~labelaudit.core.pipeline.AuditResult`."""
    s = result.summary()
    ds = result.dataset
    how = "your pred_probs" if s["backbone"] is None else (
        f"{s['backbone']} on {s['device']}, {s['folds']} folds, {s['epochs']} epochs"
        if s["epochs"] else f"{s['backbone']}, {s['folds']} folds")
    ensemble = s.get("ensemble") or {}
    if ensemble.get("members", 1) > 1:
        how += f", {ensemble['members']} models per fold (they agree on {ensemble['agreement']:.1%} of examples)"
    console.print(f"[bold]Audited {s['num_examples']:,} examples, {s['num_classes']} classes ({s['modality']})[/] "
                  f"with {how} in {result.timings['total_seconds']:.1f}s")
    print_columns(console, ds)
    console.print(f"Label issues: [bold]{s['num_issues']:,}[/] ({s['issue_rate']:.2%}); "
                  f"estimated {s['estimated_num_issues']:,}; health score {s['health_score']:.3f}; "
                  f"cross-validated accuracy {s['cv_accuracy']:.3f}")
    near = s.get("neighbours")
    if near:
        console.print(f"Neighbourhood ({near['k']} nearest): {near['disagreement_rate']:.2%} of examples outvoted by "
                      f"their neighbours' labels, {near['flagged_disagreeing']:,} of them flagged")
    ev = result.evaluation
    if ev:
        ap = "n/a" if ev["average_precision"] is None else f"{ev['average_precision']:.3f}"
        console.print(f"Against the known true labels ({ev['num_true_errors']:,} real errors): "
                      f"precision {ev['precision']:.3f}, recall {ev['recall']:.3f}, F1 {ev['f1']:.3f}, "
                      f"average precision {ap}")

    classes = Table(title="Per class", show_edge=False)
    for col in ("class", "size", "issues", "issue rate", "est. noise", "confused with"):
        classes.add_column(col, justify="left" if col in ("class", "confused with") else "right")
    for row in s["classes"]:
        classes.add_row(row["class_name"], f"{row['size']:,}", f"{row['num_issues']:,}", f"{row['issue_rate']:.1%}",
                        f"{row['estimated_noise_rate']:.1%}", row["top_confused_with"] or "")
    console.print(classes)

    if top:
        issues = Table(title=f"Top {top} suspected label issues", show_edge=False)
        with_ids = ds.example_ids is not None
        for col in ("rank", "index", *(("id",) if with_ids else ()), "given", "suggested", "quality", "issue"):
            issues.add_column(col, justify="right" if col in ("rank", "index", "quality") else "left")
        if near:
            issues.add_column("neighbours", justify="right")
        if ds.true_labels is not None:
            issues.add_column("true")
        for row in result.rows(top):
            cells = [str(row["rank"]), str(row["index"]), *((row["example_id"],) if with_ids else ()),
                     row["given_class"], row["suggested_class"], f"{row['quality_score']:.4f}",
                     "yes" if row["is_issue"] else ""]
            if near:
                cells.append(f"{row['neighbour_score']:.2f}")
            if ds.true_labels is not None:
                cells.append(ds.class_names[row["true_label"]])
            issues.add_row(*cells)
        console.print(issues)


def describe_columns(schema: list[dict]) -> list[str]:
    """A table's schema in a few lines: features by type (with their missing share), the id, what was ignored."""
    features = [c for c in schema if c["role"] == "feature"]
    lines = []
    if features:
        def one(c: dict) -> str:
            miss = f", {c['missing_share']:.0%} missing" if c["missing_share"] else ""
            return f"{c['name']} ({c['type']}{miss})"
        lines.append("Features: " + ", ".join(one(c) for c in features))
    ids = [c["name"] for c in schema if c["role"] == "id"]
    if ids:
        lines.append("Identifiers (never features): " + ", ".join(ids))
    ignored = [f"{c['name']} ({c['reason']})" for c in schema if c["role"] == "ignored"]
    if ignored:
        lines.append("Ignored: " + ", ".join(ignored))
    return lines


def print_columns(console: Console, ds) -> None:
    """A table's column roles, and the rows left out for want of a label."""
    schema = ds.meta.get("schema") if ds.meta else None
    if not schema:
        return
    for line in describe_columns(schema):
        console.print(line, highlight=False)
    if ds.meta.get("id_column"):
        console.print(f"Examples keyed by: {ds.meta['id_column']}", highlight=False)
    missing = ds.meta.get("missing_labels") or {}
    if missing.get("count"):
        console.print(f"Rows with no label, left out: {missing['count']:,}", highlight=False)


def print_rules(console: Console, outcome) -> None:
    """The gate's human summary: headline figures, each rule, the verdict."""
    s = outcome.summary
    console.print(f"[bold]labelaudit check[/]: {s['num_examples']:,} examples, {s['num_classes']} classes; "
                  f"{s['num_issues']:,} label issues ({s['issue_rate']:.2%}); health score {s['health_score']:.3f}"
                  + (f"; backbone {s['backbone']}" if s.get("backbone") else "; your pred_probs"), highlight=False,
                  soft_wrap=True)
    for note in outcome.notes:
        console.print(f"  note: {note}", highlight=False, soft_wrap=True)  # paths stay whole, never "..."
    for r in outcome.results:
        mark = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        console.print(f"  {mark} {r.message}", highlight=False, soft_wrap=True)
        if not r.passed:
            for detail in r.details[:SHOWN_DETAILS]:
                console.print(f"      {escape(detail)}", highlight=False, soft_wrap=True)
            if len(r.details) > SHOWN_DETAILS:
                console.print(f"      ... and {len(r.details) - SHOWN_DETAILS} more (all in --json)", highlight=False)
    colour = "green" if outcome.verdict == "pass" else "red"
    console.print(f"[bold {colour}]verdict: {outcome.verdict}[/]")
