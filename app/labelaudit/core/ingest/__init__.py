"""Read datasets from files or bytes and validate them once, at the door.

Formats: CSV and Parquet tables and pandas DataFrames (:func:`from_dataframe`: columns of any
type, each given a role by :mod:`.roles`, and a label column), NPZ arrays
(``X``, ``y``, optional ``class_names``), IDX image/label pairs (as MNIST ships
them, raw or gzip), zip archives of images in class folders, and the caller's own
out-of-sample predicted probabilities (``pred_probs`` plus labels, as ``.npy``
files or one NPZ).

Every problem raises one :class:`~labelaudit.errors.IngestError` that names the field
and the reason; what comes out is a :class:`~labelaudit.core.dataset.Dataset` whose
arrays later steps can trust. Every limit is a field of one :class:`IngestLimits`.

Modules: one per format (:mod:`.tables`, :mod:`.arrays` for NPZ and in-memory
arrays, :mod:`.idx`, :mod:`.images`, :mod:`.pred_probs`); what they share
(:mod:`.sources`, :mod:`.archives`, :mod:`.npy`, :mod:`.labels`, :mod:`.messages`);
and :mod:`.detection`, :mod:`.readers` (the registry of readers by format),
:mod:`.validation` and :mod:`.load` (:func:`load_dataset`).
"""

from __future__ import annotations

from labelaudit.core.ingest.archives import ZIP_METHODS
from labelaudit.core.ingest.arrays import from_arrays, read_npz
from labelaudit.core.ingest.detection import FORMATS, detect_format
from labelaudit.core.ingest.frame import from_dataframe
from labelaudit.core.ingest.idx import read_idx, read_idx_array
from labelaudit.core.ingest.images import IMAGE_EXTENSIONS, read_image_zip
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.load import load_dataset
from labelaudit.core.ingest.npy import read_npy
from labelaudit.core.ingest.pred_probs import PRED_PROBS_TOLERANCE, from_pred_probs, read_pred_probs
from labelaudit.core.ingest.readers import READERS, ReadOptions
from labelaudit.core.ingest.roles import ColumnInfo, RoleOverrides, infer_roles
from labelaudit.core.ingest.sources import Source
from labelaudit.core.ingest.tables import DEFAULT_LABEL_COLUMN, TRUE_LABEL_COLUMN, read_table
from labelaudit.core.ingest.validation import validate_dataset

__all__ = [
    "DEFAULT_LABEL_COLUMN",
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "PRED_PROBS_TOLERANCE",
    "READERS",
    "TRUE_LABEL_COLUMN",
    "ZIP_METHODS",
    "ColumnInfo",
    "IngestLimits",
    "RoleOverrides",
    "ReadOptions",
    "Source",
    "detect_format",
    "from_arrays",
    "from_dataframe",
    "infer_roles",
    "from_pred_probs",
    "load_dataset",
    "read_idx",
    "read_idx_array",
    "read_image_zip",
    "read_npy",
    "read_npz",
    "read_pred_probs",
    "read_table",
    "validate_dataset",
]
