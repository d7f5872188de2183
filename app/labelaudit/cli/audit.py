"""``labelaudit audit``: audit a dataset's labels and print the suspected label issues."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelaudit.core.constants import (
    DEFAULT_BACKBONE,
    DEFAULT_DEVICE,
    DEFAULT_FILTER_BY,
    DEFAULT_FOLDS,
    DEFAULT_LABEL_COLUMN,
    DEFAULT_NOISE_RATE,
    DEFAULT_RANK_METHOD,
    DEFAULT_SEED,
    DEFAULT_WEIGHTS_MODE,
    MAX_ENSEMBLE,
    MAX_EPOCHS,
    MAX_FOLDS,
    MAX_NEIGHBOURS,
    MAX_SEED,
)
from labelaudit.cli.common import (
    CATEGORICAL,
    DROP_COLUMNS,
    FEATURES,
    TEXT,
    column_roles,
    err,
    guard,
    load_input,
    load_reference,
)
from labelaudit.cli.common import out, read_noise_matrix, write_json, write_rows_csv
from labelaudit.vocab import BackboneName, Device, FilterBy, InputFormat, NoiseKind, RankMethod, WeightsMode


@guard
def audit(
    path: Path = typer.Argument(..., help="Dataset file: CSV, Parquet, NPZ, IDX images, or a pred_probs .npy."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Labels file for IDX images or pred_probs .npy "
                                          "(found next to the data when it follows the usual naming)."),
    label_column: str = typer.Option(DEFAULT_LABEL_COLUMN, "--label-column", help="Label column of a table."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Column with a stable key per example."),
    format: Optional[InputFormat] = typer.Option(None, "--format", help="Input format (detected when omitted)."),
    features: Optional[list[str]] = FEATURES,
    drop_columns: Optional[list[str]] = DROP_COLUMNS,
    categorical: Optional[list[str]] = CATEGORICAL,
    text: Optional[list[str]] = TEXT,
    backbone: BackboneName = typer.Option(DEFAULT_BACKBONE, "--backbone", help="Model trained in each fold."),
    folds: int = typer.Option(DEFAULT_FOLDS, "--folds", min=2, max=MAX_FOLDS, help="Cross-validation folds."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, max=MAX_EPOCHS,
                                         help="Training epochs (a size-based default)."),
    ensemble: Optional[int] = typer.Option(None, "--ensemble", min=1, max=MAX_ENSEMBLE,
                                           help="Models per fold, averaged (default: the backbone's choice "
                                                "for the data's size; each costs one more training)."),
    neighbours: int = typer.Option(0, "--neighbours", min=0, max=MAX_NEIGHBOURS,
                                   help="k of a neighbourhood score per example (neighbour_score in --csv/--json): "
                                        "how its k nearest training examples' labels agree with its own. 0: none."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", min=0, max=MAX_SEED,
                             help="Seeds folds, noise, weights and data order."),
    device: Device = typer.Option(DEFAULT_DEVICE, "--device", help="Where to train."),
    rank_method: RankMethod = typer.Option(DEFAULT_RANK_METHOD, "--rank-method",
                                           help="cleanlab's label-quality score."),
    filter_by: FilterBy = typer.Option(DEFAULT_FILTER_BY, "--filter-by", help="cleanlab's issue filter."),
    inject_noise: Optional[NoiseKind] = typer.Option(None, "--inject-noise",
                                                     help="Flip labels first (a controlled experiment)."),
    noise_rate: float = typer.Option(DEFAULT_NOISE_RATE, "--noise-rate", min=0.0, max=1.0, help="Share of each class flipped."),
    noise_matrix: Optional[Path] = typer.Option(None, "--noise-matrix", help="k x k P(given|true), .npy or .json."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the whole result as JSON."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write the ranked per-example rows as CSV."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Keep only the N lowest-quality rows in --json/--csv."),
    show: int = typer.Option(10, "--show", min=0, help="Suspected issues listed on screen."),
    image_size: Optional[int] = typer.Option(None, "--image-size", min=4, max=512,
                                             help="Resize images to this square size."),
    skip_corrupt: bool = typer.Option(False, "--skip-corrupt", help="Skip unreadable images in a zip (listed)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Local pretrained state dict for the backbone."),
    weights_mode: WeightsMode = typer.Option(DEFAULT_WEIGHTS_MODE, "--weights-mode",
                                             help="Train everything, or only the head on a frozen body."),
    hflip: bool = typer.Option(False, "--hflip", help="Horizontal flips preserve labels: use them to augment."),
    reference: Optional[Path] = typer.Option(None, "--reference", help="Trusted labelled data of the same kind "
                                             "(e.g. the training set when auditing a test set): its rows join "
                                             "every fold's training part and are never ranked."),
    reference_labels: Optional[Path] = typer.Option(None, "--reference-labels",
                                                    help="Labels file of IDX --reference images."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Audit a dataset's labels and print the suspected label issues."""
    from labelaudit.core.pipeline import AuditOptions, run_audit
    from labelaudit.console import ProgressDisplay, print_summary
    from labelaudit.services.executors import executor_from_settings

    dataset = load_input(path, format, label_column, labels, id_column, folds, image_size, skip_corrupt,
                         roles=column_roles(features, drop_columns, categorical, text))
    reference_ds = None if reference is None else load_reference(
        reference, dataset, label_column, reference_labels, id_column, image_size, skip_corrupt)
    if inject_noise is not None:
        from labelaudit.core.dataset_noise import dataset_noise

        noisy = dataset_noise(dataset, kind=inject_noise.value, rate=noise_rate, seed=seed,
                              noise_matrix=read_noise_matrix(noise_matrix))
        dataset = dataset.with_labels(noisy.labels, noisy.true_labels)
        err.print(f"injected {inject_noise.value} noise: {noisy.num_flipped:,} of {dataset.num_examples:,} "
                  f"labels flipped (seed {seed})", highlight=False)
    options = AuditOptions(backbone=backbone.value, folds=folds, epochs=epochs, ensemble=ensemble,
                           neighbours=neighbours, seed=seed, device=device.value, rank_method=rank_method.value,
                           filter_by=filter_by.value,
                           backbone_options=_backbone_options(image_size, weights, weights_mode.value, hflip)
                           if dataset.modality == "image" else {})
    with ProgressDisplay(err, enabled=not quiet) as progress:
        # a pred_probs audit trains nothing, so it needs no executor (nor Ray)
        executor = executor_from_settings() if dataset.modality != "pred_probs" else None
        result = run_audit(dataset, options, progress=progress, executor=executor, reference=reference_ds)
    if json_out:
        write_json(json_out, result.to_dict(top))
    if csv_out:
        write_rows_csv(csv_out, result, top)
    print_summary(out, result, top=show)


def _backbone_options(image_size, weights, weights_mode, hflip) -> dict:
    opts = {"image_size": image_size, "weights": str(weights) if weights else None,
            "weights_mode": weights_mode if weights else None, "hflip": True if hflip else None}
    return {k: v for k, v in opts.items() if v is not None}
