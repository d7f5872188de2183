"""Two audits of related data side by side: which issues are new, which are gone, how each class moved.

Pure functions on the flagged rows of each audit (anything with ``index`` and
``rank`` attributes, in rank order) and the keys that match their examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class IssueDiff:
    """The flagged examples of ``base`` and ``other`` matched by key.

    ``new``: flagged in ``other`` only (and present in ``base``), in ``other``'s rank
    order; ``gone``: flagged in ``base`` only (and present in ``other``), in
    ``base``'s rank order; ``num_kept``: flagged in both; ``unmatched_*``: flagged
    examples whose key the other audit does not hold at all.
    """

    new: list
    gone: list
    num_kept: int
    unmatched_base: int
    unmatched_other: int


def row_key(keys: np.ndarray | None, row: Any):
    """The key of ``row``: its dataset index when ``keys`` is ``None``, else ``keys[row.index]``."""
    return row.index if keys is None else keys[row.index]


def diff_issues(flagged_base: Sequence, flagged_other: Sequence, keys_base: np.ndarray | None,
                keys_other: np.ndarray | None) -> IssueDiff:
    """Match the flagged rows of two audits by key (``None`` keys: by dataset index; the same rows)."""
    issues_a = {row_key(keys_base, r): r for r in flagged_base}
    issues_b = {row_key(keys_other, r): r for r in flagged_other}
    all_a = None if keys_base is None else set(keys_base.tolist())
    all_b = None if keys_other is None else set(keys_other.tolist())
    new = [r for k, r in issues_b.items() if k not in issues_a and (all_a is None or k in all_a)]
    gone = [r for k, r in issues_a.items() if k not in issues_b and (all_b is None or k in all_b)]
    unmatched_a = 0 if all_b is None else sum(k not in all_b for k in issues_a)
    unmatched_b = 0 if all_a is None else sum(k not in all_a for k in issues_b)
    return IssueDiff(new=new, gone=gone, num_kept=len(issues_b) - len(new) - unmatched_b,
                     unmatched_base=unmatched_a, unmatched_other=unmatched_b)


def page_after(rows: Sequence, *, after: int | None, limit: int) -> tuple[list, str | None]:
    """Up to ``limit`` of ``rows`` (in rank order) with a rank above ``after``, and the next cursor."""
    if after is not None:
        rows = [r for r in rows if r.rank > after]
    more = len(rows) > limit
    rows = list(rows[:limit])
    return rows, (str(rows[-1].rank) if more and rows else None)


def class_changes(classes_base: Sequence[dict], classes_other: Sequence[dict]) -> list[dict]:
    """Per class: sizes, issues and issue rates of both audits and the rate's change (from the class tables)."""
    return [{"class_id": a["class_id"], "class_name": a["class_name"],
             "base_size": a["size"], "other_size": b["size"],
             "base_issues": a["num_issues"], "other_issues": b["num_issues"],
             "base_issue_rate": a["issue_rate"], "other_issue_rate": b["issue_rate"],
             "issue_rate_change": b["issue_rate"] - a["issue_rate"]} for a, b in zip(classes_base, classes_other)]


def shared_share(keys_a: np.ndarray, keys_b: np.ndarray) -> tuple[int, int]:
    """How many keys the two sets share, and the size of the smaller set."""
    return len(set(keys_a.tolist()) & set(keys_b.tolist())), min(len(keys_a), len(keys_b))
