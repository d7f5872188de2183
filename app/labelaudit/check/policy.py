"""Policy rules for the label-quality gate, and their verdict on an audit result.

Rules (and how to read the dataset) come from flags, a ``labelaudit.toml`` file, or
the ``[tool.labelaudit]`` section of ``pyproject.toml``; flags win.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelaudit.errors import OptionError
from labelaudit.vocab import InputFormat

RULE_FIELDS = ("max_issue_rate", "max_class_issue_rate", "min_health_score", "max_issues", "max_new_issues")


class Policy(BaseModel):
    """Limits an audit must stay within. Unset rules are not checked."""

    model_config = ConfigDict(extra="forbid")

    max_issue_rate: Optional[float] = Field(None, ge=0, le=1, description="Share of examples flagged, at most.")
    max_class_issue_rate: Optional[float] = Field(None, ge=0, le=1, description="Any one class's share, at most.")
    min_health_score: Optional[float] = Field(None, ge=0, le=1, description="cleanlab's label health, at least.")
    max_issues: Optional[int] = Field(None, ge=0, description="Flagged examples, at most.")
    max_new_issues: Optional[int] = Field(None, ge=0, description="Issues absent from the baseline, at most.")
    baseline: Optional[Path] = Field(None, description="An accepted earlier --json report.")
    decisions: Optional[Path] = Field(None, description="Review decisions (JSON): examples decided keep are "
                                      "accepted, never new issues.")

    def rules(self) -> dict:
        return {k: getattr(self, k) for k in RULE_FIELDS if getattr(self, k) is not None}


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome: the measured value against the limit."""

    rule: str
    passed: bool
    measured: float
    limit: float
    message: str
    #: what a reviewer acts on when the rule fails: every class over its limit, each new issue
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"rule": self.rule, "passed": self.passed, "measured": self.measured, "limit": self.limit,
                "message": self.message, "details": list(self.details)}


class DataOptions(BaseModel):
    """How to read the dataset: the ``[data]`` table of the config file, beside the policy. Unset: the defaults."""

    model_config = ConfigDict(extra="forbid")

    label_column: Optional[str] = Field(None, description="Label column of a table (default `label`).")
    id_column: Optional[str] = Field(None, description="Column with a stable key per example.")
    format: Optional[InputFormat] = Field(None, description="Input format (detected when unset).")
    labels: Optional[Path] = Field(None, description="Labels file for IDX images or a pred_probs .npy.")
    features: Optional[list[str]] = Field(None, description="A table's feature columns (others ignored).")
    drop_columns: Optional[list[str]] = Field(None, description="A table's columns to leave out.")
    categorical: Optional[list[str]] = Field(None, description="A table's columns to treat as categories.")
    text: Optional[list[str]] = Field(None, description="A table's columns to treat as free text.")

    def roles(self) -> dict:
        """The column roles named, as keyword arguments (``features``, ``drop_columns``, ...)."""
        return {k: getattr(self, k) for k in ("features", "drop_columns", "categorical", "text")
                if getattr(self, k)}


#: Keys a config file may hold: the rules (at the top level or under ``[policy]``), ``baseline``, ``decisions``,
#: ``[data]``.
_TOP_LEVEL = frozenset(RULE_FIELDS) | {"baseline", "decisions", "policy", "data"}


def load_config(flags: dict, data_flags: dict, *, config: Path | None = None,
                cwd: Path | None = None) -> tuple[Policy, DataOptions, str | None]:
    """The policy and the data options: the config file's merged with flags (flags win), and where the file was.

    Looks for ``config``, else ``labelaudit.toml``, else ``pyproject.toml`` with a
    ``[tool.labelaudit]`` table, in ``cwd``. Rules sit at the top level or in a
    ``[policy]`` table; data options in a ``[data]`` table. An unknown key anywhere is
    an error naming it. Relative paths (``baseline``, ``labels``) are relative to the file.
    """
    cwd = cwd or Path.cwd()
    section, source = _config_section(config, cwd)
    unknown = sorted(set(section) - _TOP_LEVEL)
    if unknown:
        raise OptionError(f"unknown key {unknown[0]!r} in {source}; expected the rules "
                          f"({', '.join(RULE_FIELDS)}), baseline, decisions, a [policy] or a [data] table", field="config")
    policy_data = {k: v for k, v in section.items() if k not in ("policy", "data")}
    nested = section.get("policy") or {}
    if not isinstance(nested, dict):
        raise OptionError(f"'policy' in {source} must be a table", field="config")
    policy_data.update({k.replace("-", "_"): v for k, v in nested.items()})
    data = section.get("data") or {}
    if not isinstance(data, dict):
        raise OptionError(f"'data' in {source} must be a table", field="config")
    data = {k.replace("-", "_"): v for k, v in data.items()}
    base = Path(source).parent if source else cwd
    for values, key in ((policy_data, "baseline"), (policy_data, "decisions"), (data, "labels")):
        if values.get(key) is not None and isinstance(values[key], str):
            values[key] = (base / values[key]).resolve()
    policy_data.update({k: v for k, v in flags.items() if v is not None})
    data.update({k: v for k, v in data_flags.items() if v is not None})
    return (_validated(Policy, policy_data, source, "policy"), _validated(DataOptions, data, source, "data"),
            source)


def load_policy(flags: dict, *, config: Path | None = None, cwd: Path | None = None) -> tuple[Policy, str | None]:
    """The policy alone (see :func:`load_config`)."""
    policy, _, source = load_config(flags, {}, config=config, cwd=cwd)
    return policy, source


def _config_section(config: Path | None, cwd: Path) -> tuple[dict, str | None]:
    """The labelaudit table of the first config file found, with its keys' dashes as underscores."""
    candidates = [config] if config else [cwd / "labelaudit.toml", cwd / "pyproject.toml"]
    for path in candidates:
        if path is None or not path.is_file():
            if config is not None:
                raise OptionError(f"config file not found: {config}", field="config")
            continue
        try:
            parsed = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise OptionError(f"{path}: not valid TOML: {exc}", field="config") from exc
        section = parsed.get("tool", {}).get("labelaudit") if path.name == "pyproject.toml" else parsed
        if section is None:
            continue
        return {k.replace("-", "_"): v for k, v in section.items()}, str(path)
    return {}, None


def _validated(model, data: dict, source: str | None, prefix: str):
    try:
        return model(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or prefix
        raise OptionError(f"{err['msg']} (in {source or 'flags'})", field=field) from exc


def evaluate_policy(policy: Policy, summary: dict, *, new_issues: list[dict] | None = None) -> list[RuleResult]:
    """Check each set rule against an audit summary (and the rows of the issues new since the baseline)."""
    out: list[RuleResult] = []
    if policy.max_issue_rate is not None:
        v = summary["issue_rate"]
        out.append(_rule("max_issue_rate", v <= policy.max_issue_rate, v, policy.max_issue_rate,
                         f"issue rate {v:.4f} ({summary['num_issues']} of {summary['num_examples']})",
                         "exceeds", "within"))
    if policy.max_class_issue_rate is not None:
        limit = policy.max_class_issue_rate
        ranked = sorted(summary["classes"], key=lambda c: (-c["issue_rate"], c["class_id"]))
        over = [c for c in ranked if c["issue_rate"] > limit]
        worst = ranked[0]
        v = worst["issue_rate"]
        what = (f"class {worst['class_name']!r} issue rate {v:.4f} ({worst['num_issues']} of {worst['size']})"
                if len(over) <= 1 else
                f"{len(over)} classes' issue rates (worst: {worst['class_name']!r} {v:.4f})")
        out.append(_rule("max_class_issue_rate", not over, v, limit, what, "exceed" if len(over) > 1 else "exceeds",
                         "within", details=[f"class {c['class_name']!r}: issue rate {c['issue_rate']:.4f} "
                                            f"({c['num_issues']} of {c['size']})" for c in over]))
    if policy.min_health_score is not None:
        v = summary["health_score"]
        out.append(_rule("min_health_score", v >= policy.min_health_score, v, policy.min_health_score,
                         f"label health score {v:.4f}", "is below", "meets"))
    if policy.max_issues is not None:
        v = summary["num_issues"]
        out.append(_rule("max_issues", v <= policy.max_issues, v, policy.max_issues, f"{v} label issues",
                         "exceed", "within"))
    if policy.baseline is not None or policy.decisions is not None or policy.max_new_issues is not None:
        limit = policy.max_new_issues if policy.max_new_issues is not None else 0
        rows = new_issues or []
        out.append(_rule("max_new_issues", len(rows) <= limit, len(rows), limit,
                         f"{len(rows)} issues not in the baseline", "exceed", "within",
                         details=[describe_issue(r) for r in rows]))
    return out


def describe_issue(row: dict) -> str:
    """One issue row for a person: its key, given -> suggested label and quality score."""
    given = row.get("given_class", row.get("given_label"))
    suggested = row.get("suggested_class", row.get("suggested_label"))
    return f"{row['example_key']} (row {row['index']}): {given} -> {suggested}, score {row['quality_score']:.4f}"


def _rule(name: str, passed: bool, measured, limit, what: str, bad: str, good: str,
          details: list[str] | None = None) -> RuleResult:
    shown = f"{limit:.4f}" if isinstance(limit, float) else str(limit)
    verb = good if passed else bad
    return RuleResult(rule=name, passed=bool(passed), measured=float(measured), limit=float(limit),
                      message=f"{what} {verb} the limit {shown} ({name})", details=tuple(details or ()))
