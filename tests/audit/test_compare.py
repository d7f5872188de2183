"""The pure part of comparing two audits: flagged rows matched by key, paging, per-class changes."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from labelaudit.core.compare import class_changes, diff_issues, page_after, shared_share

Row = namedtuple("Row", "index rank")


def test_rows_of_one_dataset_match_by_index():
    base = [Row(3, 0), Row(7, 1), Row(1, 2)]
    other = [Row(7, 0), Row(5, 1)]
    diff = diff_issues(base, other, None, None)
    assert [r.index for r in diff.new] == [5]
    assert [r.index for r in diff.gone] == [3, 1]
    assert diff.num_kept == 1 and diff.unmatched_base == diff.unmatched_other == 0


def test_rows_match_by_key_and_keys_only_one_side_holds_are_unmatched():
    keys_base = np.array(["a", "b", "c", "d"], dtype=object)      # index -> key
    keys_other = np.array(["d", "c", "x", "a"], dtype=object)     # reordered, "b" gone, "x" new
    base = [Row(0, 0), Row(1, 1)]                                  # a, b flagged
    other = [Row(3, 0), Row(2, 1), Row(1, 2)]                      # a, x, c flagged
    diff = diff_issues(base, other, keys_base, keys_other)
    assert [keys_other[r.index] for r in diff.new] == ["c"]       # "x" is not in base: unmatched, not new
    assert diff.gone == []                                          # "b" is not in other: unmatched, not gone
    assert diff.num_kept == 1 and diff.unmatched_base == 1 and diff.unmatched_other == 1
    assert shared_share(keys_base, keys_other) == (3, 4)


def test_pages_follow_the_rank_cursor():
    rows = [Row(i, r) for i, r in enumerate([2, 5, 9, 11])]
    page, cursor = page_after(rows, after=None, limit=2)
    assert [r.rank for r in page] == [2, 5] and cursor == "5"
    page, cursor = page_after(rows, after=int(cursor), limit=2)
    assert [r.rank for r in page] == [9, 11] and cursor is None


def test_class_changes_subtract_the_issue_rates():
    a = [{"class_id": 0, "class_name": "cat", "size": 10, "num_issues": 2, "issue_rate": 0.2}]
    b = [{"class_id": 0, "class_name": "cat", "size": 10, "num_issues": 1, "issue_rate": 0.1}]
    (row,) = class_changes(a, b)
    assert row["base_issues"] == 2 and row["other_issues"] == 1
    assert abs(row["issue_rate_change"] + 0.1) < 1e-12
