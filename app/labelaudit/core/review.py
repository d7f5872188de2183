"""Review decisions on an audit's examples, as pure functions: check them, key them, apply them to a dataset.

A decision is one of :class:`~labelaudit.vocab.ReviewDecision`: ``relabel`` (to a
named class), ``keep`` (the given label is right), ``exclude`` (drop the example) or
``unsure``. Decisions are keyed by the example's stable key
(:func:`labelaudit.core.keys.example_keys`), so they carry over to another version
of the same data (rows reordered, appended or relabelled).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.tables import DECISION_COLUMN, ORIGINAL_LABEL_COLUMN
from labelaudit.core.keys import example_keys, has_stable_keys
from labelaudit.errors import OptionError
from labelaudit.vocab import ReviewDecision

#: Keys are stored in a 300-character column; longer ones (long ids, deep image paths) are stored hashed.
MAX_KEY_LENGTH = 300
__all__ = ["DECISION_COLUMN", "ORIGINAL_LABEL_COLUMN", "Decision", "apply_decisions", "check_decision",
           "parse_decisions", "read_decisions_file", "review_keys", "stored_key"]


@dataclass(frozen=True)
class Decision:
    """One checked decision: ``label`` is the class name a ``relabel`` sets (``None`` otherwise)."""

    decision: ReviewDecision
    label: str | None = None
    note: str | None = None


def stored_key(key: str) -> str:
    """``key`` as stored: itself, or ``h:<sha256>`` when longer than :data:`MAX_KEY_LENGTH`."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "h:" + hashlib.sha256(key.encode()).hexdigest()


def review_keys(ds: Dataset, *, scope: str) -> np.ndarray:
    """The key a decision on each example of ``ds`` is stored under.

    The stable example key (id or content hash); positional keys (a pred_probs
    dataset has no content) are scoped by ``scope`` (the dataset lineage's root id),
    so they never match another dataset's rows.
    """
    keys = example_keys(ds)
    if not has_stable_keys(ds):
        keys = np.array([f"{scope}/{k}" for k in keys.tolist()], dtype=object)
    return np.array([stored_key(str(k)) for k in keys.tolist()], dtype=object)


def check_decision(decision, label, class_names: list[str], *, field: str, suggested: str | None = None,
                   note=None) -> Decision:
    """A checked :class:`Decision`, or :class:`OptionError` naming ``field``.

    A ``relabel`` without a label takes ``suggested`` (accepting the audit's suggestion);
    its label must name a class of ``class_names``. The other decisions take no label.
    """
    try:
        kind = ReviewDecision(decision)
    except ValueError:
        raise OptionError(f"decision {decision!r} is not one of {', '.join(d.value for d in ReviewDecision)}",
                          field=f"{field}.decision", code="invalid_decision") from None
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise OptionError("note must be text of at most 2000 characters", field=f"{field}.note",
                          code="invalid_note")
    if kind is not ReviewDecision.RELABEL:
        if label is not None:
            raise OptionError(f"a {kind.value} decision takes no label (only relabel does)", field=f"{field}.label",
                              code="unexpected_label")
        return Decision(kind, None, note)
    label = suggested if label is None else str(label)
    if label is None:
        raise OptionError("relabel needs the class to relabel to", field=f"{field}.label", code="missing_label")
    if label not in class_names:
        shown = ", ".join(repr(c) for c in class_names[:20]) + (" ..." if len(class_names) > 20 else "")
        raise OptionError(f"label {label!r} is not a class of this audit; its classes are {shown}",
                          field=f"{field}.label", code="unknown_class")
    return Decision(kind, label, note)


@dataclass(frozen=True)
class Corrected:
    """A dataset with decisions applied, and what was applied."""

    dataset: Dataset
    relabelled: int
    excluded: int
    kept: int
    unsure: int

    @property
    def applied(self) -> int:
        """Decisions that matched an example of the dataset."""
        return self.relabelled + self.excluded + self.kept + self.unsure


def apply_decisions(ds: Dataset, keys: np.ndarray, decisions: Mapping[str, Decision]) -> Corrected:
    """``ds`` with ``decisions`` (by key; ``keys`` holds each row's) applied.

    Relabelled rows get their new label, excluded rows are dropped, the others stay
    as they are. The result carries two extra columns: :data:`ORIGINAL_LABEL_COLUMN`
    (the class name before the review) and :data:`DECISION_COLUMN` (the decision
    applied, ``""`` where none). Its true labels (when known) and ids follow the rows.
    Raises :class:`OptionError` (field ``decisions``) when a relabel names a class
    ``ds`` does not have.
    """
    names = list(ds.class_names)
    labels = np.asarray(ds.labels, dtype=np.int64).copy()
    kinds = np.full(ds.num_examples, "", dtype=object)
    keep_rows = np.ones(ds.num_examples, dtype=bool)
    counts = dict.fromkeys(ReviewDecision, 0)
    for i, key in enumerate(np.asarray(keys).tolist()):
        d = decisions.get(key)
        if d is None:
            continue
        counts[d.decision] += 1
        kinds[i] = d.decision.value
        if d.decision is ReviewDecision.RELABEL:
            if d.label not in names:
                raise OptionError(f"the decision on {key} relabels to {d.label!r}, not a class of this dataset",
                                  field="decisions", code="unknown_class")
            labels[i] = names.index(d.label)
        elif d.decision is ReviewDecision.EXCLUDE:
            keep_rows[i] = False
    original = np.asarray(names, dtype=object)[np.asarray(ds.labels, dtype=np.int64)]

    def rows(a):
        return None if a is None else np.asarray(a)[keep_rows]

    extra = {k: rows(v) for k, v in (ds.extra_columns or {}).items()}
    extra.update({ORIGINAL_LABEL_COLUMN: original[keep_rows].astype(str),
                  DECISION_COLUMN: kinds[keep_rows].astype(str)})
    # a table's per-row schema facts (rows left out for want of a label) describe the parent's rows, not these
    meta = {k: v for k, v in ds.meta.items() if k not in ("missing_labels", "kept_rows")}
    out = replace(ds, labels=labels[keep_rows], features=rows(ds.features), pred_probs=rows(ds.pred_probs),
                  true_labels=rows(ds.true_labels), example_ids=rows(ds.example_ids), texts=rows(ds.texts),
                  extra_columns=extra, meta=meta)
    return Corrected(out, counts[ReviewDecision.RELABEL], counts[ReviewDecision.EXCLUDE],
                     counts[ReviewDecision.KEEP], counts[ReviewDecision.UNSURE])


def read_decisions_file(path: Path, class_names: list[str]) -> tuple[dict[str, Decision], dict[int, Decision]]:
    """Decisions from a JSON file: by key and by row index.

    The file holds a list of ``{key | index, decision, label?, note?}``, or an object
    with such a list under ``items`` or ``decisions`` (what ``GET /v1/audits/{id}/decisions``
    and ``Client.decisions`` give). Undone entries (``decision`` null) are skipped.
    """
    return parse_decisions(decision_items(path), class_names)


def decision_items(path: Path) -> list[dict]:
    """The entries of a decisions JSON file: a list of objects, or such a list under ``items`` or ``decisions``.

    Raises :class:`OptionError` (field ``decisions``) for a missing file, bad JSON or no such list.
    """
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise OptionError(f"decisions file not found: {path}", field="decisions") from None
    except (OSError, ValueError) as exc:
        raise OptionError(f"decisions file {path} is not valid JSON: {exc}", field="decisions") from None
    items = doc.get("items", doc.get("decisions")) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise OptionError(f"decisions file {path} holds no list of decisions", field="decisions")
    return items


def parse_decisions(items: Iterable, class_names: list[str]) -> tuple[dict[str, Decision], dict[int, Decision]]:
    """Checked decisions from ``{key | index, decision, label?, note?}`` mappings: ``(by_key, by_index)``."""
    by_key: dict[str, Decision] = {}
    by_index: dict[int, Decision] = {}
    for i, item in enumerate(items):
        field = f"decisions.{i}"
        if not isinstance(item, dict):
            raise OptionError("each decision must be an object", field=field)
        if item.get("decision") is None:
            continue
        d = check_decision(item["decision"], item.get("label"), class_names, field=field, note=item.get("note"))
        if item.get("key") is not None:
            by_key[stored_key(str(item["key"]))] = d
        elif isinstance(item.get("index"), int) and not isinstance(item.get("index"), bool):
            by_index[int(item["index"])] = d
        else:
            raise OptionError("each decision names its example by key or index", field=f"{field}.key",
                              code="missing_key")
    return by_key, by_index
