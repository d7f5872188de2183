"""The reader of each input format: :data:`READERS` maps an :class:`~labelaudit.vocab.InputFormat` to a
function ``(source, options) -> Dataset``; :func:`~labelaudit.core.ingest.load_dataset` looks formats up
here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.arrays import read_npz
from labelaudit.core.ingest.idx import read_idx
from labelaudit.core.ingest.images import read_image_zip
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.pred_probs import read_pred_probs
from labelaudit.core.ingest.roles import RoleOverrides
from labelaudit.core.ingest.sources import Source, sibling_labels
from labelaudit.core.ingest.tables import DEFAULT_LABEL_COLUMN, read_table
from labelaudit.errors import IngestError
from labelaudit.vocab import InputFormat


@dataclass(frozen=True)
class ReadOptions:
    """What :func:`~labelaudit.core.ingest.load_dataset` passes every reader; each uses the fields
    its format needs (see ``load_dataset`` for their meaning)."""

    labels: Source | np.ndarray | None = None
    label_column: str = DEFAULT_LABEL_COLUMN
    id_column: str | None = None
    image_size: int | None = None
    skip_corrupt: bool = False
    temp_dir: str | Path | None = None
    limits: IngestLimits = field(default_factory=IngestLimits)
    roles: RoleOverrides = field(default_factory=RoleOverrides)


Reader = Callable[[Source, ReadOptions], Dataset]

#: formats whose labels may come in a second file (the others carry their own)
SEPARATE_LABELS = frozenset({InputFormat.IDX, InputFormat.PRED_PROBS})


def _csv(source: Source, options: ReadOptions) -> Dataset:
    return read_table(source, format="csv", label_column=options.label_column, id_column=options.id_column,
                      limits=options.limits, roles=options.roles)


def _parquet(source: Source, options: ReadOptions) -> Dataset:
    return read_table(source, format="parquet", label_column=options.label_column, id_column=options.id_column,
                      limits=options.limits, roles=options.roles)


def _npz(source: Source, options: ReadOptions) -> Dataset:
    return read_npz(source, temp_dir=options.temp_dir, limits=options.limits)


def _idx(source: Source, options: ReadOptions) -> Dataset:
    labels = options.labels
    if labels is None:
        labels = sibling_labels(source, ("images-idx3", "labels-idx1"))
    if labels is None:
        raise IngestError("an IDX images file needs its labels file (IDX, magic 2049)", field="labels",
                          code="missing_labels")
    return read_idx(source, labels, limits=options.limits)


def _pred_probs(source: Source, options: ReadOptions) -> Dataset:
    return read_pred_probs(source, options.labels, temp_dir=options.temp_dir, limits=options.limits)


def _image_zip(source: Source, options: ReadOptions) -> Dataset:
    return read_image_zip(source, image_size=options.image_size, skip_corrupt=options.skip_corrupt,
                          limits=options.limits)


#: the reader of each input format
READERS: dict[InputFormat, Reader] = {
    InputFormat.CSV: _csv,
    InputFormat.PARQUET: _parquet,
    InputFormat.NPZ: _npz,
    InputFormat.IDX: _idx,
    InputFormat.PRED_PROBS: _pred_probs,
    InputFormat.IMAGE_ZIP: _image_zip,
}
