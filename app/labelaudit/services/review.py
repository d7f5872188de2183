"""Review use cases: decide on an audit's examples (one, many, or an issue-browser filter), undo, list with the
review's progress, and an example's history.

Decisions belong to the tenant and are keyed by each example's review key
(:func:`labelaudit.core.review.review_keys`), so a later audit of the same data
(reordered, appended, relabelled) shows them. Writes are bulk and idempotent: a
decision equal to the current one changes nothing; every change (undo included)
bumps the example's ``version`` and appends a history event, all in one
transaction. A caller that sends the ``version`` it saw gets :class:`Conflict`
(409) when another change landed since; otherwise the last write wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.core.review import Decision, check_decision, stored_key
from labelaudit.errors import Conflict, OptionError
from labelaudit.services.review_view import ReviewView, review_view
from labelaudit.store import decisions as store
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.db import Database
from labelaudit.store.models import as_utc, utcnow
from labelaudit.vocab import ReviewDecision

#: A bulk answer lists each example's new state only up to this many examples (counts always).
MAX_LISTED = 1000
#: Review states of an example, for the listing's ``state`` filter.
STATES = ("all", "decided", "undecided")


@dataclass(frozen=True)
class Target:
    """One example a request acts on: its index, the decision to set (``None``: undo), the version the caller saw."""

    index: int
    decision: Decision | None
    version: int | None
    field: str


def resolve_index(view: ReviewView, item: dict, field: str) -> int:
    """The dataset index ``item`` names by ``key`` or ``index``; :class:`OptionError` ``unknown_example``."""
    key, index = item.get("key"), item.get("index")

    def f(name: str) -> str:
        return f"{field}.{name}" if field else name

    if key is not None:
        found = view.index_of(stored_key(str(key)))
        if found is None:
            raise OptionError(f"no example with key {str(key)[:80]!r} in this audit", field=f("key"),
                              code="unknown_example")
        return found
    if index is None:
        raise OptionError("name the example by key or index", field=f("key"), code="missing_key")
    if not 0 <= int(index) < view.num_examples:
        raise OptionError(f"no example {index} in this audit ({view.num_examples} examples)", field=f("index"),
                          code="unknown_example")
    return int(index)


def targets_of(view: ReviewView, *, items: list[dict] | None, filter: dict | None, decision: str | None,
               label: str | None, note: str | None, undo: bool, decided: dict | None = None) -> list[Target]:
    """The examples a request names (a list of items, or the issue browser's filter with one decision), checked."""
    names = list(view.class_names)

    def checked(d, lbl, i, field, nt):
        if undo:
            return None
        return check_decision(d, lbl, names, field=field, suggested=names[view.suggested[i]], note=nt)

    if items is not None and filter is not None:
        raise OptionError("send items or a filter, not both", field="filter", code="items_and_filter")
    if items is not None:
        out = []
        for n, item in enumerate(items):
            field = f"items.{n}"
            i = resolve_index(view, item, field)
            out.append(Target(i, checked(item.get("decision"), item.get("label"), i, field, item.get("note")),
                              item.get("version"), field))
        return out
    if filter is None:
        raise OptionError("send items (a list of examples) or a filter", field="items", code="missing_items")
    if not undo and decision is None:
        raise OptionError("a filter request needs the decision to set", field="decision", code="missing_decision")
    spec = {k: v for k, v in filter.items() if k != "state"}
    mask = view.mask(**spec, prefix="filter.")
    state = filter.get("state") or "all"
    if state != "all" and decided is not None:
        has = np.array([k in decided for k in view.keys.tolist()], dtype=bool)
        mask &= has if state == "decided" else ~has
    indices = np.flatnonzero(mask)
    indices = indices[np.argsort(view.rank[indices], kind="stable")]
    return [Target(int(i), checked(decision, label, int(i), "filter", note), None, "filter") for i in indices]


def change(db: Database, artifacts: ArtifactStore, *, audit_id: str, tenant: str, who: str,
           items: list[dict] | None = None, filter: dict | None = None, decision: str | None = None,
           label: str | None = None, note: str | None = None, undo: bool = False) -> dict:
    """Set (or with ``undo`` clear) decisions on examples of ``tenant``'s finished audit; one transaction.

    ``items`` are ``{key | index, decision, label?, note?, version?}``; or ``filter``
    (``given_label``, ``suggested_label``, ``is_issue``, ``min_score``, ``max_score``,
    ``state``) selects examples that all get ``decision`` / ``label`` / ``note``. A
    ``relabel`` without a label accepts each example's suggested class. Returns
    ``{changed, unchanged, items}`` (``items`` null beyond :data:`MAX_LISTED` examples).
    Raises :class:`OptionError` naming the field (unknown class, bad decision, unknown
    example), :class:`Conflict` ``stale_version`` when a sent version is not the current one.
    """
    with db.sessions() as s:
        view = review_view(s, artifacts, audit_id, tenant=tenant)
        decided = None
        if filter is not None and (filter.get("state") or "all") != "all":
            decided = store.live(s, tenant=tenant, keys=view.keys.tolist())
    targets = targets_of(view, items=items, filter=filter, decision=decision, label=label, note=note, undo=undo,
                         decided=decided)
    last = {view.keys[t.index]: t for t in targets}  # one example named twice: the last one wins
    now = utcnow()
    with db.sessions.begin() as s:
        store.lock_tenant(s, tenant=tenant)
        cur = store.current(s, tenant=tenant, keys=list(last))
        inserts, updates, events, out = [], [], [], []
        for key, t in last.items():
            row = cur.get(key)
            version = row[6] if row else 0
            if t.version is not None and int(t.version) != version:
                raise Conflict(f"the decision on {key} is at version {version}, not {t.version}: someone changed it "
                               "since; read it again", field=f"{t.field}.version", code="stale_version")
            new = (None, None, None) if t.decision is None else (t.decision.decision.value, t.decision.label,
                                                                 t.decision.note)
            if (row is None and t.decision is None) or (row is not None and tuple(row[1:4]) == new):
                out.append((t.index, key, row))
                continue
            values = {"tenant": tenant, "example_key": key, "decision": new[0], "label": new[1], "note": new[2],
                      "decided_by": who, "decided_at": now, "audit_id": audit_id, "version": version + 1}
            (updates if row else inserts).append(values)
            events.append(dict(values))
            out.append((t.index, key, (key, *new, who, now, version + 1, audit_id)))
        store.write(s, inserts=inserts, updates=updates, events=events)
    listed = None
    if len(out) <= MAX_LISTED:
        listed = [item_of(view, i, row) for i, _, row in out]
    return {"changed": len(events), "unchanged": len(out) - len(events), "items": listed}


def item_of(view: ReviewView, i: int, row: tuple | None) -> dict:
    """One example of the review listing: its place in the audit and its current decision (if any)."""
    names = view.class_names
    out = {"key": str(view.keys[i]), "index": int(i), "rank": int(view.rank[i]),
           "given_label": int(view.given[i]), "suggested_label": int(view.suggested[i]),
           "given_class": names[view.given[i]], "suggested_class": names[view.suggested[i]],
           "quality_score": float(view.score[i]), "is_issue": bool(view.is_issue[i]),
           "decision": None, "label": None, "note": None, "decided_by": None, "decided_at": None,
           "version": 0}
    if row is not None:
        out.update(decision=row[1], label=row[2], note=row[3], decided_by=row[4],
                   decided_at=as_utc(row[5]).isoformat() if row[5] else None, version=int(row[6]))
    return out


def progress_of(view: ReviewView, live: dict[str, tuple]) -> dict:
    """The review's figures over the audit's examples.

    ``reviewed`` (examples with a decision), ``reviewed_issues`` of ``num_issues``,
    counts per decision, and ``agreement``: of the ``keep`` and ``relabel`` decisions,
    the share whose resulting label is the audit's suggested class (null before any).
    """
    names = view.class_names
    counts = dict.fromkeys((d.value for d in ReviewDecision), 0)
    reviewed_issues = agree = judged = 0
    for key, row in live.items():  # the decided examples only: usually far fewer than the audit's
        i = view.index_of(key)
        if i is None or row[1] is None:
            continue
        counts[row[1]] += 1
        reviewed_issues += bool(view.is_issue[i])
        if row[1] in (ReviewDecision.KEEP, ReviewDecision.RELABEL):
            final = row[2] if row[1] == ReviewDecision.RELABEL else names[view.given[i]]
            judged += 1
            agree += final == names[view.suggested[i]]
    return {"num_examples": view.num_examples, "num_issues": int(view.is_issue.sum()),
            "reviewed": sum(counts.values()), "reviewed_issues": reviewed_issues,
            "relabelled": counts["relabel"], "kept": counts["keep"], "excluded": counts["exclude"],
            "unsure": counts["unsure"], "agreement": agree / judged if judged else None}


def listing(db: Database, artifacts: ArtifactStore, *, audit_id: str, tenant: str, state: str = "all",
            decision: str | None = None, filter: dict | None = None, limit: int = 100,
            cursor: int | None = None, indices: list[int] | None = None) -> dict:
    """The audit's examples with their decisions, in rank order after ``cursor`` (a rank), and the progress.

    ``state`` is ``all``, ``decided`` or ``undecided``; ``decision`` keeps one kind;
    ``filter`` takes the issue browser's filters; ``indices`` keeps those examples only. Returns ``{items, next_cursor, total, progress}``.
    """
    if state not in STATES:
        raise OptionError(f"state must be one of {', '.join(STATES)}", field="state", code="invalid_state")
    if decision is not None and decision not in {d.value for d in ReviewDecision}:
        raise OptionError(f"decision {decision!r} is not one of {', '.join(d.value for d in ReviewDecision)}",
                          field="decision", code="invalid_decision")
    with db.sessions() as s:
        view = review_view(s, artifacts, audit_id, tenant=tenant)
        live = store.live(s, tenant=tenant, keys=view.keys.tolist())
    mask = view.mask(**(filter or {}))
    if indices is not None:
        chosen = np.zeros(view.num_examples, dtype=bool)
        chosen[[i for i in indices if 0 <= i < view.num_examples]] = True
        mask &= chosen
    if state != "all" or decision is not None:
        kinds = np.array([live[k][1] if k in live else "" for k in view.keys.tolist()], dtype=object)
        if state == "decided":
            mask &= kinds != ""
        elif state == "undecided":
            mask &= kinds == ""
        if decision is not None:
            mask &= kinds == decision
    indices = np.flatnonzero(mask)
    indices = indices[np.argsort(view.rank[indices], kind="stable")]
    total = len(indices)
    if cursor is not None:
        indices = indices[view.rank[indices] > cursor]
    page = indices[:limit]
    nxt = str(int(view.rank[page[-1]])) if len(indices) > limit else None
    return {"items": [item_of(view, int(i), live.get(view.keys[i])) for i in page], "next_cursor": nxt,
            "total": total, "progress": progress_of(view, live)}


def history(db: Database, artifacts: ArtifactStore, *, audit_id: str, tenant: str, key: str | None = None,
            index: int | None = None) -> dict:
    """Every change of the decision on one example (named by ``key`` or ``index``), oldest first."""
    with db.sessions() as s:
        view = review_view(s, artifacts, audit_id, tenant=tenant)
        i = resolve_index(view, {"key": key, "index": index}, "")
        k = str(view.keys[i])
        events = store.history(s, tenant=tenant, key=k)
    return {"key": k, "index": i, "events": [
        {"version": e.version, "decision": e.decision, "label": e.label, "note": e.note, "decided_by": e.decided_by,
         "decided_at": as_utc(e.decided_at).isoformat(), "audit_id": e.audit_id} for e in events]}
