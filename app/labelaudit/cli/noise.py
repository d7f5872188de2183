"""``labelaudit inject-noise``: a copy of a dataset with controlled label noise and the true labels kept."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelaudit.core.constants import DEFAULT_LABEL_COLUMN, DEFAULT_NOISE_RATE, DEFAULT_SEED, MAX_SEED
from labelaudit.cli.common import (
    CATEGORICAL,
    DROP_COLUMNS,
    FEATURES,
    TEXT,
    column_roles,
    guard,
    load_input,
    out,
    read_noise_matrix,
)
from labelaudit.vocab import InputFormat, NoiseKind


@guard
def inject_noise_cmd(
    source: Path = typer.Argument(..., help="Input dataset."),
    output: Path = typer.Argument(..., help="Output .csv, .parquet or .npz (gets a true_label column / array)."),
    kind: NoiseKind = typer.Option(NoiseKind.PAIRWISE, "--kind"),
    rate: float = typer.Option(DEFAULT_NOISE_RATE, "--rate", min=0.0, max=1.0),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", min=0, max=MAX_SEED),
    noise_matrix: Optional[Path] = typer.Option(None, "--noise-matrix", help="k x k P(given|true), .npy or .json."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX or pred_probs input."),
    label_column: str = typer.Option(DEFAULT_LABEL_COLUMN, "--label-column"),
    format: Optional[InputFormat] = typer.Option(None, "--format"),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Column with a stable key per example."),
    features: Optional[list[str]] = FEATURES,
    drop_columns: Optional[list[str]] = DROP_COLUMNS,
    categorical: Optional[list[str]] = CATEGORICAL,
    text: Optional[list[str]] = TEXT,
) -> None:
    """Write a copy of a dataset with controlled label noise and the true labels kept."""
    from labelaudit.core.dataset_noise import dataset_noise
    from labelaudit.core.writers import relabel_table, save_dataset

    dataset = load_input(source, format, label_column, labels, id_column, 2,
                         roles=column_roles(features, drop_columns, categorical, text))
    noisy = dataset_noise(dataset, kind=kind.value, rate=rate, seed=seed, noise_matrix=read_noise_matrix(noise_matrix))
    noisy_ds = dataset.with_labels(noisy.labels, noisy.true_labels)
    if dataset.meta.get("format") in ("csv", "parquet") and output.suffix.lower() in (".csv", ".parquet", ".pq"):
        relabel_table(noisy_ds, source, output, label_column=label_column)  # every other column as it was
    else:
        save_dataset(noisy_ds, output, label_column=label_column)
    out.print(f"wrote {output}: {noisy.num_flipped:,} of {dataset.num_examples:,} labels flipped "
              f"({kind.value}, rate {rate}, seed {seed})", highlight=False)
