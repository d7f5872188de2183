"""Policy rules for the label-quality gate, and their verdict on an audit result.

Rules come from flags, a ``labelaudit.toml`` file, or the ``[tool.labelaudit]``
section of ``pyproject.toml``; flags win.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelaudit.errors import OptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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

    def to_dict(self) -> dict:
        return {"rule": self.rule, "passed": self.passed, "measured": self.measured, "limit": self.limit,
                "message": self.message}


def load_policy(flags: dict, *, config: Path | None = None, cwd: Path | None = None) -> tuple[Policy, str | None]:
    """Merge the config file's policy with flags (flags win); return it and where the file was.

    Looks for ``config``, else ``labelaudit.toml``, else ``pyproject.toml`` with a
    ``[tool.labelaudit]`` table, in ``cwd``.
    """
    cwd = cwd or Path.cwd()
    data: dict = {}
    source = None
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
        data = dict(section.get("policy", section))
        data = {k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)}
        if "baseline" in data:
            data["baseline"] = (path.parent / data["baseline"]).resolve()
        source = str(path)
        break
    data.update({k: v for k, v in flags.items() if v is not None})
    try:
        return Policy(**data), source
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "policy"
        raise OptionError(f"{err['msg']} (in {source or 'flags'})", field=field) from exc


def evaluate_policy(policy: Policy, summary: dict, *, new_issues: int | None = None) -> list[RuleResult]:
    """Check each set rule against an audit summary (and the count of new issues)."""
    out: list[RuleResult] = []
    if policy.max_issue_rate is not None:
        v = summary["issue_rate"]
        out.append(_rule("max_issue_rate", v <= policy.max_issue_rate, v, policy.max_issue_rate,
                         f"issue rate {v:.4f} ({summary['num_issues']} of {summary['num_examples']})",
                         "exceeds", "within", pct=True))
    if policy.max_class_issue_rate is not None:
        worst = max(summary["classes"], key=lambda c: c["issue_rate"])
        v = worst["issue_rate"]
        out.append(_rule("max_class_issue_rate", v <= policy.max_class_issue_rate, v, policy.max_class_issue_rate,
                         f"class {worst['class_name']!r} issue rate {v:.4f} ({worst['num_issues']} of {worst['size']})",
                         "exceeds", "within", pct=True))
    if policy.min_health_score is not None:
        v = summary["health_score"]
        out.append(_rule("min_health_score", v >= policy.min_health_score, v, policy.min_health_score,
                         f"label health score {v:.4f}", "is below", "meets"))
    if policy.max_issues is not None:
        v = summary["num_issues"]
        out.append(_rule("max_issues", v <= policy.max_issues, v, policy.max_issues, f"{v} label issues",
                         "exceed", "within"))
    if policy.baseline is not None or policy.max_new_issues is not None:
        limit = policy.max_new_issues if policy.max_new_issues is not None else 0
        v = new_issues if new_issues is not None else 0
        out.append(_rule("max_new_issues", v <= limit, v, limit, f"{v} issues not in the baseline", "exceed",
                         "within"))
    return out


def _rule(name: str, passed: bool, measured, limit, what: str, bad: str, good: str, pct: bool = False) -> RuleResult:
    shown = f"{limit:.4f}" if isinstance(limit, float) else str(limit)
    verb = good if passed else bad
    return RuleResult(rule=name, passed=bool(passed), measured=float(measured), limit=float(limit),
                      message=f"{what} {verb} the limit {shown} ({name})")
