"""What reviewing a finished audit needs of it, read once per process: each example's key, rank, labels, flag.

A finished audit never changes, so its rows (by dataset index) and its examples'
review keys (:func:`labelaudit.core.review.review_keys`, which hashes content for
datasets without ids) are kept in a small LRU cache; each request still checks the
audit's status and tenant (:func:`labelaudit.services.results.done_audit_view`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from labelaudit.core.review import review_keys
from labelaudit.errors import OptionError
from labelaudit.services.results import done_audit_view, lineage_root
from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore, dataset_arrays
from labelaudit.store.models import AuditRecord

#: Examples whose review view is kept per process, all audits together (each holds a key string and five
#: numbers per example: about 120 bytes); the least recently used audits go first.
CACHE_EXAMPLES = 2_000_000


@dataclass(frozen=True)
class ReviewView:
    """One finished audit's examples, every array indexed by the example's dataset index."""

    audit_id: str
    dataset_id: str
    class_names: tuple[str, ...]
    keys: np.ndarray
    rank: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    score: np.ndarray
    is_issue: np.ndarray
    _index_of: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_examples(self) -> int:
        return int(self.rank.shape[0])

    def index_of(self, key: str) -> int | None:
        """The dataset index of the example ``key`` names, or ``None``."""
        if not self._index_of:
            self._index_of.update((k, i) for i, k in enumerate(self.keys.tolist()))
        return self._index_of.get(key)

    def class_id(self, value: str | int | None, *, field: str) -> int | None:
        """The class ``value`` names (a class id or name); :class:`OptionError` ``unknown_class`` naming ``field``."""
        if value is None:
            return None
        text = str(value)
        if text.isdecimal() and int(text) < len(self.class_names):
            return int(text)
        if text in self.class_names:
            return self.class_names.index(text)
        raise OptionError(f"{field} {text!r} is not a class of this audit", field=field, code="unknown_class")

    def mask(self, *, given_label=None, suggested_label=None, is_issue: bool | None = None,
             min_score: float | None = None, max_score: float | None = None, prefix: str = "") -> np.ndarray:
        """The examples matching the issue browser's filters (by index), as a boolean array."""
        m = np.ones(self.num_examples, dtype=bool)
        g = self.class_id(given_label, field=prefix + "given_label")
        s = self.class_id(suggested_label, field=prefix + "suggested_label")
        if g is not None:
            m &= self.given == g
        if s is not None:
            m &= self.suggested == s
        if is_issue is not None:
            m &= self.is_issue == bool(is_issue)
        if min_score is not None:
            m &= self.score >= min_score
        if max_score is not None:
            m &= self.score <= max_score
        return m


class _LRU:
    """Review views by audit id, bounded by their examples in total (one larger view is still kept alone)."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: str):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: str, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > 1 and sum(v.num_examples for v in self.items.values()) > self.size:
                self.items.popitem(last=False)


_cache = _LRU(CACHE_EXAMPLES)


def review_view(session: Session, artifacts: ArtifactStore, audit_id: str, *, tenant: str) -> ReviewView:
    """The review view of ``tenant``'s finished audit: :class:`NotFound` / :class:`NotReady` as for its results."""
    done = done_audit_view(session, audit_id, tenant=tenant)
    view = _cache.get(audit_id)
    if view is not None:
        return view
    rec = session.get(AuditRecord, audit_id)
    ds = queries.get_dataset(session, dataset_id=rec.dataset_id, tenant=None)
    rows = queries.review_columns(session, audit_id=audit_id)
    n = len(rows)
    index, rank, given, suggested, score, flag = (np.asarray(c) for c in zip(*rows)) if rows else \
        (np.zeros(0, dtype=np.int64),) * 6
    by_index = np.empty(n, dtype=np.int64)
    by_index[index.astype(np.int64)] = np.arange(n)

    def at(a, dtype):
        return np.asarray(a, dtype=dtype)[by_index]

    keys = review_keys(dataset_arrays(artifacts, ds), scope=lineage_root(session, ds))
    view = ReviewView(audit_id=audit_id, dataset_id=ds.id, class_names=done.class_names, keys=keys,
                      rank=at(rank, np.int64), given=at(given, np.int64), suggested=at(suggested, np.int64),
                      score=at(score, np.float64), is_issue=at(flag, bool))
    _cache.put(audit_id, view)
    return view
