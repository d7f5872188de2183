"""``labelaudit apply``: a dataset file with review decisions applied, written in its format."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelaudit.core.constants import DEFAULT_LABEL_COLUMN
from labelaudit.cli.common import err, fail, guard, load_input, out
from labelaudit.vocab import InputFormat


@guard
def apply_cmd(
    source: Path = typer.Argument(..., help="The dataset the decisions were made on (any row order)."),
    decisions: Path = typer.Option(..., "--decisions", help="JSON: a list of {key | index, decision, label?} or "
                                   "what GET /v1/audits/{id}/decisions (Client.decisions) gives."),
    output: Path = typer.Option(..., "--output", "-o", help="Output .csv, .parquet or .npz; gets original_label "
                                "and review_decision columns (NPZ: arrays)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX or pred_probs input."),
    label_column: str = typer.Option(DEFAULT_LABEL_COLUMN, "--label-column"),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Column with a stable key per example."),
    format: Optional[InputFormat] = typer.Option(None, "--format"),
) -> None:
    """Apply review decisions to a dataset: relabel, drop excluded rows, record the original label and decision.

    Decisions name examples by key (an id column's ``id:<value>``, or a content hash
    ``sha:...`` as the server shows them) or by row index.
    """
    from labelaudit.core.review import apply_decisions, read_decisions_file, review_keys
    from labelaudit.core.writers import save_dataset

    dataset = load_input(source, format, label_column, labels, id_column, 2)
    by_key, by_index = read_decisions_file(decisions, list(dataset.class_names))
    keys = review_keys(dataset, scope="local")
    known = set(keys.tolist())
    unmatched = [k for k in by_key if k not in known]
    for index, d in by_index.items():
        if not 0 <= index < dataset.num_examples:
            fail(f"decisions: index {index} is not a row of {source.name} ({dataset.num_examples} rows)")
        by_key[str(keys[index])] = d
    corrected = apply_decisions(dataset, keys, by_key)
    if corrected.dataset.num_examples == 0:
        fail("decisions: every example is excluded; nothing to write")
    save_dataset(corrected.dataset, output, label_column=label_column)
    if unmatched:
        err.print(f"{len(unmatched):,} decisions name examples not in {source.name} (first: {unmatched[0]})",
                  highlight=False, soft_wrap=True)
    out.print(f"wrote {output}: {corrected.dataset.num_examples:,} rows, {corrected.relabelled:,} relabelled, "
              f"{corrected.excluded:,} excluded, {corrected.kept:,} kept, {corrected.unsure:,} unsure",
              highlight=False, soft_wrap=True)
