"""Examples a reviewer decided to ``keep``: accepted by the gate, so they never count as new issues again."""

from __future__ import annotations

from pathlib import Path


def load_kept(path: Path) -> tuple[set[str], set[int]]:
    """The keys (and row indices, for entries without a key) decided ``keep`` in a decisions JSON file.

    The file is what ``GET /v1/audits/{id}/decisions`` or ``Client.decisions`` gives
    (``{"items": [...]}``), or a plain list of ``{key | index, decision}``. A server's
    positional key (``<dataset id>/row:<i>``, for pred_probs datasets) matches ``row:<i>``.
    """
    from labelaudit.core.review import decision_items

    items = decision_items(path)
    keys: set[str] = set()
    indices: set[int] = set()
    for item in items:
        if item.get("decision") != "keep":
            continue
        key = item.get("key")
        if key is not None:
            key = str(key)
            keys.add(key.split("/", 1)[1] if "/row:" in key else key)
        elif isinstance(item.get("index"), int):
            indices.add(int(item["index"]))
    return keys, indices


def accepted_keys(rows: list[dict], keys: set[str], indices: set[int]) -> set[str]:
    """The example keys of ``rows`` that ``keys`` / ``indices`` name (kept examples of this audit)."""
    from labelaudit.core.review import stored_key

    return {r["example_key"] for r in rows
            if r["example_key"] in keys or stored_key(r["example_key"]) in keys or r["index"] in indices}
