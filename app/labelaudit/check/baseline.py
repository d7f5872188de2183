"""Compare an audit's issues with an accepted earlier report, by example key."""

from __future__ import annotations

import json
from pathlib import Path

from labelaudit.errors import OptionError


def load_baseline_keys(path: Path) -> set[str]:
    """Keys of the examples flagged as issues in an earlier ``labelaudit check --json`` report."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise OptionError(f"baseline report not found: {path}", field="baseline") from exc
    except (OSError, ValueError) as exc:
        raise OptionError(f"baseline report {path} is not valid JSON: {exc}", field="baseline") from exc
    issues = data.get("issues") if isinstance(data, dict) else None
    if not isinstance(issues, list):
        raise OptionError(f"baseline report {path} has no 'issues' list (write it with labelaudit check --json)",
                          field="baseline")
    keys = set()
    for row in issues:
        if not isinstance(row, dict) or "example_key" not in row:
            raise OptionError(f"baseline report {path} has issue rows without 'example_key'", field="baseline")
        if row.get("is_issue", True):
            keys.add(str(row["example_key"]))
    return keys


def new_issue_rows(current: list[dict], baseline_keys: set[str]) -> list[dict]:
    """The rows flagged now whose example the baseline did not flag, in rank order."""
    return [row for row in current if row["is_issue"] and row["example_key"] not in baseline_keys]
